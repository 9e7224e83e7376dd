use poem::http::StatusCode;
use poem::web::{Data, Json};
use poem::{IntoResponse, Response, handler};
use serde_json::json;

use super::App;

/// The process is up.
#[handler]
pub async fn healthz() -> &'static str {
    "ok"
}

/// The process can serve: the database, the queue and the event bus answer.
#[handler]
pub async fn readyz(app: Data<&App>) -> Response {
    let state = &app.state;
    let database = crate::db::ping(&state.db).await.is_ok();
    let queue = state.queue.ping().await.is_ok();
    let bus = state.bus.ping().await.is_ok();
    let storage = state.store.check().await.is_ok();
    let status = if database && queue && bus && storage {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    let word = |ok: bool| if ok { "ok" } else { "unavailable" };
    Json(json!({
        "database": word(database),
        "queue": word(queue),
        "events": word(bus),
        "storage": word(storage),
    }))
    .with_status(status)
    .into_response()
}
