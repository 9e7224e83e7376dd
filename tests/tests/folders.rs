//! The folder tree.

use serde_json::{Value, json};
use vitrine_tests::vitrine_entity::Role;
use vitrine_tests::{PASSWORD, UploadFile, error_code, spawn_app};

const CREATE: &str = "mutation($parent: ID, $name: String!) { createFolder(input: { parentId: $parent, name: $name }) { id name path parent { id } } }";

async fn create(
    app: &vitrine_tests::TestApp,
    token: &str,
    parent: Option<&str>,
    name: &str,
) -> String {
    let body = app
        .gql(
            Some(token),
            CREATE,
            json!({ "parent": parent, "name": name }),
        )
        .await;
    body["data"]["createFolder"]["id"]
        .as_str()
        .unwrap_or_else(|| panic!("{body}"))
        .to_owned()
}

#[tokio::test]
async fn a_tree_with_paths_renames_and_moves() {
    let app = spawn_app().await;
    let admin = app.admin_token().await;
    let campaigns = create(&app, &admin, None, "Campaigns").await;
    let ss27 = create(&app, &admin, Some(&campaigns), "SS27").await;
    let rings = create(&app, &admin, Some(&ss27), "Rings").await;
    let archive = create(&app, &admin, None, "Archive").await;

    let folder = app
        .gql(
            Some(&admin),
            "query($id: ID!) { folder(id: $id) { path parent { name } } }",
            json!({ "id": rings }),
        )
        .await;
    assert_eq!(folder["data"]["folder"]["path"], "/Campaigns/SS27/Rings");
    assert_eq!(folder["data"]["folder"]["parent"]["name"], "SS27");

    // Sibling names are unique; the same name elsewhere is fine.
    let dup = app
        .gql(
            Some(&admin),
            CREATE,
            json!({ "parent": campaigns, "name": "SS27" }),
        )
        .await;
    assert_eq!(error_code(&dup), Some("CONFLICT"));
    let dup_root = app
        .gql(
            Some(&admin),
            CREATE,
            json!({ "parent": null, "name": "Archive" }),
        )
        .await;
    assert_eq!(error_code(&dup_root), Some("CONFLICT"));
    create(&app, &admin, Some(&archive), "SS27").await;
    let bad = app
        .gql(
            Some(&admin),
            CREATE,
            json!({ "parent": null, "name": "a/b" }),
        )
        .await;
    assert_eq!(error_code(&bad), Some("BAD_USER_INPUT"));

    // Renaming a folder renames every path below it.
    app.gql(
        Some(&admin),
        "mutation($id: ID!) { renameFolder(id: $id, name: \"Spring-Summer 27\") { name } }",
        json!({ "id": ss27 }),
    )
    .await;
    let folder = app
        .gql(
            Some(&admin),
            "query($id: ID!) { folder(id: $id) { path } }",
            json!({ "id": rings }),
        )
        .await;
    assert_eq!(
        folder["data"]["folder"]["path"],
        "/Campaigns/Spring-Summer 27/Rings"
    );

    // A folder cannot move into itself or below itself.
    const MOVE: &str =
        "mutation($id: ID!, $parent: ID) { moveFolder(id: $id, parentId: $parent) { path } }";
    for target in [&campaigns, &ss27, &rings] {
        let refused = app
            .gql(
                Some(&admin),
                MOVE,
                json!({ "id": campaigns, "parent": target }),
            )
            .await;
        assert_eq!(error_code(&refused), Some("BAD_USER_INPUT"), "{refused}");
    }
    // A move that would give Archive two children with one name is refused.
    create(&app, &admin, Some(&archive), "Spring-Summer 27").await;
    let moved = app
        .gql(Some(&admin), MOVE, json!({ "id": ss27, "parent": archive }))
        .await;
    assert_eq!(error_code(&moved), Some("CONFLICT"), "{moved}");
    app.gql(
        Some(&admin),
        "mutation($id: ID!) { renameFolder(id: $id, name: \"SS27 (2)\") { name } }",
        json!({ "id": ss27 }),
    )
    .await;
    let moved = app
        .gql(Some(&admin), MOVE, json!({ "id": ss27, "parent": archive }))
        .await;
    assert_eq!(
        moved["data"]["moveFolder"]["path"], "/Archive/SS27 (2)",
        "{moved}"
    );
    let folder = app
        .gql(
            Some(&admin),
            "query($id: ID!) { folder(id: $id) { path } }",
            json!({ "id": rings }),
        )
        .await;
    assert_eq!(folder["data"]["folder"]["path"], "/Archive/SS27 (2)/Rings");
    let to_root = app
        .gql(Some(&admin), MOVE, json!({ "id": rings, "parent": null }))
        .await;
    assert_eq!(to_root["data"]["moveFolder"]["path"], "/Rings");

    let roots = app
        .gql(Some(&admin), "{ folders { name } }", Value::Null)
        .await;
    let names: Vec<&str> = roots["data"]["folders"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["Archive", "Campaigns", "Rings"]);
    let children = app
        .gql(
            Some(&admin),
            "query($p: ID) { folders(parentId: $p) { name } }",
            json!({ "p": archive }),
        )
        .await;
    assert_eq!(children["data"]["folders"].as_array().unwrap().len(), 3);
    app.finish().await;
}

#[tokio::test]
async fn only_empty_folders_are_deleted_and_recursive_listing_follows_the_tree() {
    let app = spawn_app().await;
    let admin = app.admin_token().await;
    let top = create(&app, &admin, None, "Top").await;
    let child = create(&app, &admin, Some(&top), "Child").await;
    let other = create(&app, &admin, None, "Other").await;
    let file = UploadFile::fixture("chelsea.png");
    let a = app
        .upload_asset(&admin, &file, json!({ "folderId": top, "title": "in top" }))
        .await;
    app.upload_asset(
        &admin,
        &file,
        json!({ "folderId": child, "title": "in child" }),
    )
    .await;
    app.upload_asset(
        &admin,
        &file,
        json!({ "folderId": other, "title": "elsewhere" }),
    )
    .await;
    assert_eq!(a["folder"]["path"], "/Top");

    const LIST: &str = "query($f: AssetFilter) { assets(filter: $f, orderBy: { field: TITLE, direction: ASC }) { totalCount edges { node { title } } } }";
    let titles = |body: &Value| -> Vec<String> {
        body["data"]["assets"]["edges"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e["node"]["title"].as_str().unwrap().to_owned())
            .collect()
    };
    let flat = app
        .gql(Some(&admin), LIST, json!({ "f": { "folderId": top } }))
        .await;
    assert_eq!(titles(&flat), ["in top"]);
    let deep = app
        .gql(
            Some(&admin),
            LIST,
            json!({ "f": { "folderId": top, "recursive": true } }),
        )
        .await;
    assert_eq!(titles(&deep), ["in child", "in top"]);

    const DELETE: &str = "mutation($id: ID!) { deleteFolder(id: $id) }";
    let refused = app.gql(Some(&admin), DELETE, json!({ "id": top })).await;
    assert_eq!(error_code(&refused), Some("CONFLICT"));
    // A trashed asset still holds its folder (it may be restored there).
    app.gql(
        Some(&admin),
        "mutation($id: ID!) { deleteAsset(id: $id) { id } }",
        json!({ "id": a["id"] }),
    )
    .await;
    let child_assets = app
        .gql(Some(&admin), LIST, json!({ "f": { "folderId": child } }))
        .await;
    let child_asset_title = titles(&child_assets);
    assert_eq!(child_asset_title, ["in child"]);
    let refused = app.gql(Some(&admin), DELETE, json!({ "id": child })).await;
    assert_eq!(error_code(&refused), Some("CONFLICT"));
    let empty = create(&app, &admin, Some(&top), "Empty").await;
    let deleted = app.gql(Some(&admin), DELETE, json!({ "id": empty })).await;
    assert_eq!(deleted["data"]["deleteFolder"], true);
    let gone = app
        .gql(
            Some(&admin),
            "query($id: ID!) { folder(id: $id) { id } }",
            json!({ "id": empty }),
        )
        .await;
    assert_eq!(error_code(&gone), Some("NOT_FOUND"));

    // Viewers read folders but cannot change them.
    app.create_member("viewer@example.com", Role::Viewer).await;
    let viewer = app.login("viewer@example.com", PASSWORD).await;
    let listed = app
        .gql(Some(&viewer), "{ folders { name } }", Value::Null)
        .await;
    assert_eq!(listed["data"]["folders"].as_array().unwrap().len(), 2);
    let refused = app
        .gql(
            Some(&viewer),
            CREATE,
            json!({ "parent": null, "name": "Mine" }),
        )
        .await;
    assert_eq!(error_code(&refused), Some("FORBIDDEN"));
    app.finish().await;
}
