//! `GET`/`HEAD /p/{profile}/{slug-or-id}[@{n}x][.{ext}]`: public delivery of
//! published images, cacheable by CDNs (see [`crate::delivery::public`]).
//!
//! Every refusal is the same 404 (`no-store`): whether an asset exists, is
//! unpublished or lost its license is nobody's business here.

use std::sync::Arc;

use poem::http::{Method, StatusCode, header};
use poem::web::{Data, Path};
use poem::{Request, Response, handler};

use super::App;
use super::delivery::{etag_matches, plain, still_rendering, unavailable};
use crate::delivery::derivative::StillRendering;
use crate::delivery::public::{PublicPath, encoding, resolve};
use crate::delivery::signing::VariantFormat;
use vitrine_worker::purge::{ALL_PUBLIC, asset_key, profile_key};

fn not_found() -> Response {
    plain(StatusCode::NOT_FOUND, "not found\n")
}

#[handler]
pub async fn serve(
    req: &Request,
    Path((profile, file)): Path<(String, String)>,
    Data(app): Data<&App>,
) -> Response {
    let state = &app.state;
    let Some(path) = PublicPath::parse(&profile, &file) else {
        return not_found();
    };
    let epoch = match vitrine_entity::store::epoch(&state.db).await {
        Ok(e) => e,
        Err(e) => {
            tracing::error!(error = %e, "could not read the access epoch");
            return unavailable();
        }
    };
    let resolved = match state.public.cached(&path, epoch) {
        Some(r) => r,
        None => match resolve(state, &path, epoch).await {
            Ok(Some(r)) => {
                let r = Arc::new(r);
                state.public.remember(path.clone(), r.clone());
                r
            }
            Ok(None) => return not_found(),
            Err(e) => {
                tracing::error!(error = ?e, "could not decide a public delivery");
                return unavailable();
            }
        },
    };
    let now = state.clock.now();
    let Some((source, until)) = resolved.decide(now) else {
        return not_found();
    };
    let encoding = encoding(&path, &resolved, req.header(header::ACCEPT));
    let vary_accept = path.format.unwrap_or(resolved.profile_format) == VariantFormat::Auto;
    let etag = source.etag(encoding);
    // Cached no longer than the license coverage or the window lasts.
    let left = (until - now).num_seconds().max(0) as u64;
    let config = &state.config.public;
    let max_age = config.max_age.as_secs().min(left);
    let s_maxage = config.s_maxage.as_secs().min(left);
    let keys = [
        asset_key(resolved.asset_id),
        profile_key(&path.profile),
        ALL_PUBLIC.to_owned(),
    ];
    let mut builder = Response::builder()
        .header(header::ETAG, &etag)
        .header(
            header::CACHE_CONTROL,
            format!("public, max-age={max_age}, s-maxage={s_maxage}"),
        )
        .header("surrogate-key", keys.join(" "))
        .header("cache-tag", keys.join(","))
        .header(header::X_CONTENT_TYPE_OPTIONS, "nosniff")
        .header(header::ACCESS_CONTROL_ALLOW_ORIGIN, "*");
    if vary_accept {
        builder = builder.header(header::VARY, "Accept");
    }
    if etag_matches(req.header(header::IF_NONE_MATCH), &etag) {
        return builder.status(StatusCode::NOT_MODIFIED).finish();
    }
    let payload = match crate::delivery::derivative::payload(state, &source, encoding).await {
        Ok(p) => p,
        Err(e) if e.is::<StillRendering>() => return still_rendering(),
        Err(e) => {
            tracing::error!(error = %e, "could not make a public derivative");
            return unavailable();
        }
    };
    let len = payload.len();
    builder = builder
        .status(StatusCode::OK)
        .header(header::CONTENT_TYPE, encoding.media_type())
        .header(
            header::CONTENT_DISPOSITION,
            format!("inline; filename=\"{}.{}\"", path.key, encoding.extension()),
        )
        .header(header::CONTENT_LENGTH, len);
    if req.method() == Method::HEAD {
        return builder.finish();
    }
    match payload.body(state, 0, len).await {
        Ok(body) => {
            state.public.count(resolved.asset_id, now);
            builder.body(body)
        }
        Err(e) => {
            tracing::error!(error = %e, "could not read a public derivative");
            unavailable()
        }
    }
}
