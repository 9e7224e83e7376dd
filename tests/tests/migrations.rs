//! The latest migrations can be rolled back and applied again on a
//! database with data in it, on both backends, and search works after.

use serde_json::json;
use vitrine_migration::{Migrator, MigratorTrait};
use vitrine_tests::{UploadFile, spawn_app};

#[tokio::test]
async fn the_latest_migrations_roll_back_and_forward_with_data_in_place() {
    let app = spawn_app().await;
    let admin = app.admin_token().await;
    let asset = app
        .upload_asset(
            &admin,
            &UploadFile::fixture("garden.jpg"),
            json!({ "title": "Rose gold ring" }),
        )
        .await;
    let id = asset["id"].as_str().unwrap().to_owned();
    let search = "{ search(query: \"rose gold\", first: 5) { totalCount edges { node { id } } facets { tags { value count } stages { value count } } } }";
    let before = app.gql(Some(&admin), search, json!({})).await;
    assert_eq!(before["data"]["search"]["totalCount"], 1, "{before}");

    // Back past the search copies (20), the tag array (21) and the
    // derivative profiles (22), then forward again.
    let applied = Migrator::get_applied_migrations(app.db()).await.unwrap();
    Migrator::down(app.db(), Some(3)).await.unwrap();
    assert_eq!(
        Migrator::get_applied_migrations(app.db())
            .await
            .unwrap()
            .len(),
        applied.len() - 3
    );
    Migrator::up(app.db(), None).await.unwrap();
    assert_eq!(
        Migrator::get_applied_migrations(app.db())
            .await
            .unwrap()
            .len(),
        applied.len()
    );

    // The copies are rebuilt from the assets: the same answer as before.
    let after = app.gql(Some(&admin), search, json!({})).await;
    assert_eq!(after["data"]["search"], before["data"]["search"], "{after}");
    assert_eq!(
        after["data"]["search"]["edges"][0]["node"]["id"],
        id.as_str()
    );
    // And what migration 22 created works again.
    let body = app
        .gql(
            Some(&admin),
            "mutation { createDerivativeProfile(input: { name: \"pdp\", width: 800, height: 800 }) { revision } }",
            json!({}),
        )
        .await;
    assert_eq!(
        body["data"]["createDerivativeProfile"]["revision"], 1,
        "{body}"
    );
    app.finish().await;
}
