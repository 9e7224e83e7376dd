//! Share links and the visitor page, from the visitor's side (HTTP only, no
//! browser): passwords, cookies scoped to one link, scopes, caps under
//! concurrency, revocation and expiry.

use std::time::Duration;

use serde_json::{Value, json};
use vitrine_tests::share::{
    create_link, delivery_urls, header, link_url, published, visit_cookie, visitor,
};
use vitrine_tests::vitrine_api::delivery::{DeliveryKind, issue_for_visit};
use vitrine_tests::vitrine_entity::entities::{asset, share_visit};
use vitrine_tests::vitrine_entity::{Clock, Role};
use vitrine_tests::{PASSWORD, TestApp, UploadFile, error_code, spawn_app};

const LINK_PASSWORD: &str = "spring collection 27";

async fn unlock(client: &reqwest::Client, url: &str, password: &str) -> reqwest::Response {
    client
        .post(url)
        .form(&[("password", password)])
        .send()
        .await
        .unwrap()
}

async fn open_with(client: &reqwest::Client, url: &str, cookie: &str) -> reqwest::Response {
    client
        .get(url)
        .header("cookie", cookie)
        .send()
        .await
        .unwrap()
}

async fn audit_actions(app: &TestApp, admin: &str, link_id: &str) -> Vec<String> {
    let body = app
        .gql(
            Some(admin),
            "query($f: AuditEventFilter) { auditEvents(filter: $f, first: 200) { edges { node { action actorKind shareLinkId ip } } } }",
            json!({ "f": { "shareLinkId": link_id } }),
        )
        .await;
    body["data"]["auditEvents"]["edges"]
        .as_array()
        .unwrap_or_else(|| panic!("{body}"))
        .iter()
        .map(|e| e["node"]["action"].as_str().unwrap().to_owned())
        .collect()
}

#[tokio::test]
async fn a_password_protected_link_opens_only_with_its_password_and_for_its_own_cookie() {
    let app = spawn_app().await;
    let admin = app.admin_token().await;
    let _worker = app.start_worker_if_needed().await;
    let (_, ids) = published(&app, &admin, 2).await;
    let (url, link_id) = link_url(
        &app,
        &admin,
        json!({ "assetIds": ids, "scope": "LOWRES_DOWNLOAD", "password": LINK_PASSWORD, "label": "SS27 for Le Bon Marché" }),
    )
    .await;
    let token = url.rsplit('/').next().unwrap();
    assert!(
        token.starts_with("vsl_") && token.len() >= 4 + 43,
        "{token}"
    );
    let client = visitor();

    // Forwarded without its password: a form, and nothing about the assets.
    let form = client.get(&url).send().await.unwrap();
    assert_eq!(form.status(), 200);
    for (name, value) in [
        ("x-robots-tag", "noindex"),
        ("referrer-policy", "same-origin"),
        ("x-frame-options", "DENY"),
        ("cache-control", "no-store"),
    ] {
        assert!(
            header(&form, name).contains(value),
            "{name}: {}",
            header(&form, name)
        );
    }
    let csp = header(&form, "content-security-policy");
    assert!(
        csp.contains("default-src 'none'") && csp.contains("frame-ancestors 'none'"),
        "{csp}"
    );
    let html = form.text().await.unwrap();
    assert!(html.contains("type=\"password\""), "{html}");
    for leak in ["secret-title", "/r/", "garden", "Le Bon", "vitrine-"] {
        assert!(!html.contains(leak), "the form leaks {leak:?}");
    }

    // A wrong password: refused, counted, audited; no cookie.
    let wrong = unlock(&client, &url, "not the password").await;
    assert_eq!(wrong.status(), 401);
    assert!(header(&wrong, "set-cookie").is_empty());
    assert!(!wrong.text().await.unwrap().contains("secret-title"));

    // The right one: a cookie scoped to this link, then the page.
    let right = unlock(&client, &url, LINK_PASSWORD).await;
    assert_eq!(right.status(), 303);
    let set = header(&right, "set-cookie");
    for part in ["HttpOnly", "SameSite=Strict", &format!("Path=/s/{token}")] {
        assert!(set.contains(part), "{set}");
    }
    assert!(!set.contains("Secure"), "plain HTTP here: {set}");
    let cookie = visit_cookie(&right);
    let page = open_with(&client, &url, &cookie).await;
    assert_eq!(page.status(), 200);
    let html = page.text().await.unwrap();
    assert!(html.contains("Look 0 secret-title") && html.contains("Look 1 secret-title"));
    let images = delivery_urls(&app, &html, "src");
    let downloads = delivery_urls(&app, &html, "class=\"download\" href");
    assert_eq!((images.len(), downloads.len()), (2, 2), "{html}");
    let image = client.get(&images[0]).send().await.unwrap();
    assert_eq!(image.status(), 200);
    assert_eq!(header(&image, "content-type"), "image/jpeg");
    let lowres = client.get(&downloads[0]).send().await.unwrap();
    assert_eq!(lowres.status(), 200);
    assert!(header(&lowres, "content-disposition").contains("-lowres.jpg"));

    // Link A's cookie does not open link B, even with B's path forged.
    let (url_b, _) = link_url(
        &app,
        &admin,
        json!({ "assetIds": [ids[0]], "password": "another password 1" }),
    )
    .await;
    let other = open_with(&client, &url_b, &cookie).await;
    assert_eq!(other.status(), 200);
    let html_b = other.text().await.unwrap();
    assert!(html_b.contains("type=\"password\"") && !html_b.contains("secret-title"));
    // Nor does a made-up cookie open A.
    let forged = open_with(
        &client,
        &url,
        &format!("vitrine_visit={}.vsv_forged", uuid::Uuid::now_v7().simple()),
    )
    .await;
    assert!(forged.text().await.unwrap().contains("type=\"password\""));

    // The inventory counts it all; the audit log has every step as VISITOR.
    let listed = app
        .gql(
            Some(&admin),
            "{ shareLinks { id state opens views downloads failedPasswords lastAccessAt hasPassword } }",
            Value::Null,
        )
        .await;
    let links = listed["data"]["shareLinks"].as_array().unwrap();
    let a = links.iter().find(|l| l["id"] == link_id.as_str()).unwrap();
    assert_eq!(a["state"], "ACTIVE");
    assert_eq!(
        (
            a["opens"].as_i64(),
            a["views"].as_i64(),
            a["downloads"].as_i64()
        ),
        (Some(1), Some(1), Some(1)),
        "{a}"
    );
    assert_eq!(a["failedPasswords"], 1);
    let actions = audit_actions(&app, &admin, &link_id).await;
    for expected in [
        "SHARE_LINK_CREATED",
        "SHARE_PASSWORD_FAILED",
        "SHARE_LINK_OPENED",
        "RENDITION_VIEWED",
        "LOWRES_DOWNLOADED",
    ] {
        assert!(
            actions.iter().any(|a| a == expected),
            "{expected} missing from {actions:?}"
        );
    }
    app.finish().await;
}

#[tokio::test]
async fn a_preview_link_never_yields_a_download_byte() {
    let app = spawn_app().await;
    let admin = app.admin_token().await;
    let _worker = app.start_worker_if_needed().await;
    let (_, ids) = published(&app, &admin, 1).await;
    let (url, link_id) = link_url(&app, &admin, json!({ "assetIds": ids })).await;
    let client = visitor();
    // No password: the page opens at once and sets the visit cookie.
    let page = client.get(&url).send().await.unwrap();
    assert_eq!(page.status(), 200);
    let _cookie = visit_cookie(&page);
    let html = page.text().await.unwrap();
    assert!(
        delivery_urls(&app, &html, "class=\"download\" href").is_empty(),
        "a download button: {html}"
    );
    assert!(!html.contains("class=\"download\""), "{html}");
    let images = delivery_urls(&app, &html, "src");
    assert_eq!(images.len(), 1);
    assert_eq!(client.get(&images[0]).send().await.unwrap().status(), 200);

    // Even a validly signed LOWRES or ORIGINAL URL for this visit is refused.
    let link_uuid = uuid::Uuid::parse_str(&link_id).unwrap();
    let visit = {
        use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};
        share_visit::Entity::find()
            .filter(share_visit::Column::LinkId.eq(link_uuid))
            .one(app.db())
            .await
            .unwrap()
            .unwrap()
    };
    let model = {
        use sea_orm::EntityTrait;
        asset::Entity::find_by_id(uuid::Uuid::parse_str(&ids[0]).unwrap())
            .one(app.db())
            .await
            .unwrap()
            .unwrap()
    };
    for kind in [DeliveryKind::Lowres, DeliveryKind::Original] {
        let typed = issue_for_visit(&app.state, &visit, &model, kind).unwrap();
        let r = client
            .get(format!("{}{typed}", app.base))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 403, "{kind:?}");
        assert!(!r.bytes().await.unwrap().starts_with(&[0xFF, 0xD8]));
    }
    app.finish().await;
}

#[tokio::test]
async fn twenty_parallel_downloads_against_a_cap_of_five_yield_exactly_five_files() {
    let app = spawn_app().await;
    let admin = app.admin_token().await;
    let _worker = app.start_worker_if_needed().await;
    let (_, ids) = published(&app, &admin, 1).await;
    let (url, link_id) = link_url(
        &app,
        &admin,
        json!({ "assetIds": ids, "scope": "DOWNLOAD", "maxDownloads": 5 }),
    )
    .await;
    let client = visitor();
    let html = client.get(&url).send().await.unwrap().text().await.unwrap();
    let downloads = delivery_urls(&app, &html, "class=\"download\" href");
    assert_eq!(downloads.len(), 1, "{html}");
    let original = downloads[0].clone();
    let tasks: Vec<_> = (0..20)
        .map(|_| {
            let client = client.clone();
            let url = original.clone();
            tokio::spawn(async move {
                let r = client.get(&url).send().await.unwrap();
                let status = r.status().as_u16();
                let bytes = r.bytes().await.unwrap();
                (status, bytes.len())
            })
        })
        .collect();
    let mut ok = 0;
    let mut refused = 0;
    for t in tasks {
        match t.await.unwrap() {
            (200, len) => {
                assert!(len > 1000);
                ok += 1;
            }
            (403, _) => refused += 1,
            (s, _) => panic!("unexpected status {s}"),
        }
    }
    assert_eq!((ok, refused), (5, 15));
    let link = app
        .gql(
            Some(&admin),
            "query($id: ID!) { shareLink(id: $id) { downloads } }",
            json!({ "id": link_id }),
        )
        .await;
    assert_eq!(link["data"]["shareLink"]["downloads"], 5, "{link}");
    // Used up: the page shows no download button any more.
    let html = client.get(&url).send().await.unwrap().text().await.unwrap();
    assert!(delivery_urls(&app, &html, "class=\"download\" href").is_empty());
    app.finish().await;
}

#[tokio::test]
async fn revoking_a_link_kills_its_page_and_outstanding_image_urls() {
    let app = spawn_app().await;
    let admin = app.admin_token().await;
    let _worker = app.start_worker_if_needed().await;
    let (_, ids) = published(&app, &admin, 1).await;
    let (url, link_id) = link_url(
        &app,
        &admin,
        json!({ "assetIds": ids, "scope": "DOWNLOAD" }),
    )
    .await;
    let client = visitor();
    let page = client.get(&url).send().await.unwrap();
    let cookie = visit_cookie(&page);
    let html = page.text().await.unwrap();
    let image = delivery_urls(&app, &html, "src").remove(0);
    let original = delivery_urls(&app, &html, "class=\"download\" href").remove(0);
    assert_eq!(client.get(&image).send().await.unwrap().status(), 200);

    let revoked = app
        .gql(
            Some(&admin),
            "mutation($id: ID!) { revokeShareLink(id: $id) { state revokedAt } }",
            json!({ "id": link_id }),
        )
        .await;
    assert_eq!(
        revoked["data"]["revokeShareLink"]["state"], "REVOKED",
        "{revoked}"
    );
    assert_eq!(client.get(&image).send().await.unwrap().status(), 403);
    assert_eq!(client.get(&original).send().await.unwrap().status(), 403);
    let gone = open_with(&client, &url, &cookie).await;
    assert_eq!(gone.status(), 410);
    let html = gone.text().await.unwrap();
    assert!(
        html.contains("unavailable") && !html.contains("secret-title") && !html.contains("/r/")
    );
    // Unknown tokens get the same page (404), telling nothing more.
    let unknown = client
        .get(format!("{}/s/vsl_{}", app.base, "x".repeat(43)))
        .send()
        .await
        .unwrap();
    assert_eq!(unknown.status(), 404);
    assert!(unknown.text().await.unwrap().contains("unavailable"));
    app.finish().await;
}

#[tokio::test]
async fn links_live_inside_their_window_and_their_creators_rights() {
    let app = spawn_app().await;
    let admin = app.admin_token().await;
    let _worker = app.start_worker_if_needed().await;
    let (folder, ids) = published(&app, &admin, 1).await;
    let editor_id = app.create_member("editor@vitrine.test", Role::Editor).await;
    let editor = app.login("editor@vitrine.test", PASSWORD).await;
    let now = app.clock.now();
    let (url, _) = link_url(
        &app,
        &editor,
        json!({
            "folderId": folder,
            "startsAt": (now + chrono::Duration::hours(1)).to_rfc3339(),
            "expiresAt": (now + chrono::Duration::hours(3)).to_rfc3339(),
        }),
    )
    .await;
    let client = visitor();
    // Not yet: 404, the same unavailable page.
    let early = client.get(&url).send().await.unwrap();
    assert_eq!(early.status(), 404);
    app.clock.advance(chrono::Duration::hours(2));
    let page = client.get(&url).send().await.unwrap();
    assert_eq!(page.status(), 200);
    let cookie = visit_cookie(&page);
    let html = page.text().await.unwrap();
    let image = delivery_urls(&app, &html, "src").remove(0);
    assert_eq!(client.get(&image).send().await.unwrap().status(), 200);

    // The creator demoted to viewer (no SHARE): the link gives nothing more.
    let demoted = app
        .gql(
            Some(&admin),
            "mutation($id: ID!) { updateUser(id: $id, input: { role: VIEWER }) { role } }",
            json!({ "id": editor_id.to_string() }),
        )
        .await;
    assert!(demoted["errors"].is_null(), "{demoted}");
    assert_eq!(client.get(&image).send().await.unwrap().status(), 403);
    let html = open_with(&client, &url, &cookie)
        .await
        .text()
        .await
        .unwrap();
    assert!(
        html.contains("id=\"empty\"") && !html.contains("secret-title"),
        "{html}"
    );

    // A new asset in the folder shows up (folder links are live) once the
    // creator may share again; a RESTRICTED one never does.
    app.gql(
        Some(&admin),
        "mutation($id: ID!) { updateUser(id: $id, input: { role: EDITOR }) { role } }",
        json!({ "id": editor_id.to_string() }),
    )
    .await;
    app.set_access(&admin, &[&ids[0]], "RESTRICTED", None, None)
        .await;
    let html = open_with(&client, &url, &cookie)
        .await
        .text()
        .await
        .unwrap();
    assert!(html.contains("id=\"empty\""), "{html}");
    app.set_access(&admin, &[&ids[0]], "PUBLIC", None, None)
        .await;
    let html = open_with(&client, &url, &cookie)
        .await
        .text()
        .await
        .unwrap();
    assert!(html.contains("secret-title"), "{html}");

    // After its expiry: 410, and the image URLs stop.
    app.clock.advance(chrono::Duration::hours(2));
    assert_eq!(open_with(&client, &url, &cookie).await.status(), 410);
    assert_eq!(client.get(&image).send().await.unwrap().status(), 403);
    app.finish().await;
}

#[tokio::test]
async fn password_guessing_is_throttled_per_link_and_audited() {
    let app = spawn_app().await;
    let admin = app.admin_token().await;
    let _worker = app.start_worker_if_needed().await;
    let (_, ids) = published(&app, &admin, 1).await;
    let (url, link_id) = link_url(
        &app,
        &admin,
        json!({ "assetIds": ids, "password": LINK_PASSWORD }),
    )
    .await;
    let client = visitor();
    for _ in 0..5 {
        assert_eq!(unlock(&client, &url, "guess guess").await.status(), 401);
    }
    // Locked: even the right password is refused until the window ends.
    let locked = unlock(&client, &url, LINK_PASSWORD).await;
    assert_eq!(locked.status(), 429);
    let retry: u64 = header(&locked, "retry-after").parse().unwrap();
    assert!((1..=900).contains(&retry), "{retry}");
    // Five failures and one lockout; refused attempts add nothing.
    assert_eq!(unlock(&client, &url, "guess again").await.status(), 429);
    let actions = audit_actions(&app, &admin, &link_id).await;
    assert_eq!(
        actions
            .iter()
            .filter(|a| *a == "SHARE_PASSWORD_FAILED")
            .count(),
        5
    );
    assert_eq!(
        actions.iter().filter(|a| *a == "SHARE_LOCKED_OUT").count(),
        1,
        "{actions:?}"
    );
    app.clock.advance(chrono::Duration::minutes(16));
    assert_eq!(unlock(&client, &url, LINK_PASSWORD).await.status(), 303);
    app.finish().await;
}

#[tokio::test]
async fn only_those_who_may_share_create_links_and_they_see_only_their_own() {
    let app = spawn_app().await;
    let admin = app.admin_token().await;
    let _worker = app.start_worker_if_needed().await;
    let (_, ids) = published(&app, &admin, 1).await;
    app.create_member("viewer@vitrine.test", Role::Viewer).await;
    let viewer = app.login("viewer@vitrine.test", PASSWORD).await;
    app.create_member("editor@vitrine.test", Role::Editor).await;
    let editor = app.login("editor@vitrine.test", PASSWORD).await;

    let refused = create_link(&app, &viewer, json!({ "assetIds": ids })).await;
    assert_eq!(error_code(&refused), Some("FORBIDDEN"), "{refused}");
    let now = app.clock.now();
    for (input, code) in [
        (json!({}), "BAD_USER_INPUT"),
        (
            json!({ "assetIds": ids, "expiresAt": (now + chrono::Duration::days(91)).to_rfc3339() }),
            "BAD_USER_INPUT",
        ),
        (
            json!({ "assetIds": ids, "expiresAt": (now - chrono::Duration::minutes(1)).to_rfc3339() }),
            "BAD_USER_INPUT",
        ),
        (
            json!({ "assetIds": ids, "password": "short" }),
            "BAD_USER_INPUT",
        ),
        (
            json!({ "assetIds": ids, "maxDownloads": 0 }),
            "BAD_USER_INPUT",
        ),
        (
            json!({ "assetIds": [uuid::Uuid::now_v7().to_string()] }),
            "NOT_FOUND",
        ),
    ] {
        let body = create_link(&app, &editor, input.clone()).await;
        assert_eq!(error_code(&body), Some(code), "{input}: {body}");
    }
    let made = create_link(&app, &editor, json!({ "assetIds": ids })).await;
    let link = &made["data"]["createShareLink"]["link"];
    assert_eq!(link["scope"], "PREVIEW", "{made}");
    let expires =
        chrono::DateTime::parse_from_rfc3339(link["expiresAt"].as_str().unwrap()).unwrap();
    assert_eq!((expires.with_timezone(&chrono::Utc) - now).num_days(), 7);
    let editor_link = link["id"].as_str().unwrap().to_owned();
    create_link(&app, &admin, json!({ "assetIds": ids })).await;

    let own = app
        .gql(Some(&editor), "{ shareLinks { id } }", Value::Null)
        .await;
    assert_eq!(
        own["data"]["shareLinks"].as_array().map(Vec::len),
        Some(1),
        "{own}"
    );
    let all = app
        .gql(Some(&admin), "{ shareLinks { id } }", Value::Null)
        .await;
    assert_eq!(all["data"]["shareLinks"].as_array().map(Vec::len), Some(2));
    // Another member cannot see or revoke the editor's link.
    let theirs = app
        .gql(
            Some(&viewer),
            "mutation($id: ID!) { revokeShareLink(id: $id) { id } }",
            json!({ "id": editor_link }),
        )
        .await;
    assert_eq!(error_code(&theirs), Some("NOT_FOUND"), "{theirs}");
    // Revoking every link of an asset.
    let n = app
        .gql(
            Some(&admin),
            "mutation($id: ID!) { revokeShareLinksForAsset(assetId: $id) }",
            json!({ "id": ids[0] }),
        )
        .await;
    assert_eq!(n["data"]["revokeShareLinksForAsset"], 2, "{n}");
    let active = app
        .gql(
            Some(&admin),
            "{ shareLinks(filter: { activeOnly: true }) { id } }",
            Value::Null,
        )
        .await;
    assert_eq!(active["data"]["shareLinks"], json!([]));
    app.finish().await;
}

#[tokio::test]
async fn changing_a_links_password_or_caps_takes_effect_at_once() {
    let app = spawn_app().await;
    let admin = app.admin_token().await;
    let _worker = app.start_worker_if_needed().await;
    let (_, ids) = published(&app, &admin, 1).await;
    let (url, link_id) = link_url(
        &app,
        &admin,
        json!({ "assetIds": ids, "password": LINK_PASSWORD, "maxViews": 2 }),
    )
    .await;
    let client = visitor();
    let cookie = visit_cookie(&unlock(&client, &url, LINK_PASSWORD).await);
    let shows = |html: String| html.contains("secret-title");
    assert!(shows(
        open_with(&client, &url, &cookie)
            .await
            .text()
            .await
            .unwrap()
    ));

    // A new password ends the visits admitted with the old one.
    let changed = app
        .gql(
            Some(&admin),
            "mutation($id: ID!) { updateShareLink(id: $id, input: { password: \"a brand new password\", label: \"Press\" }) { label hasPassword } }",
            json!({ "id": link_id }),
        )
        .await;
    assert_eq!(
        changed["data"]["updateShareLink"]["label"], "Press",
        "{changed}"
    );
    let html = open_with(&client, &url, &cookie)
        .await
        .text()
        .await
        .unwrap();
    assert!(html.contains("type=\"password\"") && !html.contains("secret-title"));
    assert_eq!(unlock(&client, &url, LINK_PASSWORD).await.status(), 401);
    // The second visit is the last maxViews allows; a third is refused.
    let second = visit_cookie(&unlock(&client, &url, "a brand new password").await);
    assert!(shows(
        open_with(&client, &url, &second)
            .await
            .text()
            .await
            .unwrap()
    ));
    assert_eq!(
        unlock(&client, &url, "a brand new password").await.status(),
        410
    );
    // A running visit goes on; lifting the cap admits new ones.
    assert!(shows(
        open_with(&client, &url, &second)
            .await
            .text()
            .await
            .unwrap()
    ));
    let state = app
        .gql(
            Some(&admin),
            "query($id: ID!) { shareLink(id: $id) { state opens } }",
            json!({ "id": link_id }),
        )
        .await;
    assert_eq!(state["data"]["shareLink"]["state"], "EXHAUSTED", "{state}");
    app.gql(
        Some(&admin),
        "mutation($id: ID!) { updateShareLink(id: $id, input: { maxViews: null }) { id } }",
        json!({ "id": link_id }),
    )
    .await;
    assert_eq!(
        unlock(&client, &url, "a brand new password").await.status(),
        303
    );
    app.finish().await;
}

/// How many assets a share page shows and the fewest statements opening it
/// ran in five tries: background work (webhook fan-out, expiry sweeps) only
/// ever adds to the process-wide counter.
async fn page_cost(
    app: &TestApp,
    client: &reqwest::Client,
    url: &str,
    cookie: &str,
) -> (usize, u64) {
    let (mut least, mut shown) = (u64::MAX, 0);
    for _ in 0..5 {
        let before = app.statements();
        let html = open_with(client, url, cookie).await.text().await.unwrap();
        least = least.min(app.statements() - before);
        shown = html.matches("class=\"asset\"").count();
    }
    (shown, least)
}

#[tokio::test]
async fn a_folder_page_costs_the_same_queries_for_two_assets_or_eight() {
    let app = spawn_app().await;
    let admin = app.admin_token().await;
    let _worker = app.start_worker_if_needed().await;
    let (folder, _) = published(&app, &admin, 2).await;
    let (url, _) = link_url(&app, &admin, json!({ "folderId": folder })).await;
    let client = visitor();
    let cookie = visit_cookie(&client.get(&url).send().await.unwrap());
    let (shown, two) = page_cost(&app, &client, &url, &cookie).await;
    assert_eq!(shown, 2);
    for i in 0..6 {
        let a = app
            .upload_asset(
                &admin,
                &UploadFile::fixture("garden.jpg"),
                json!({ "folderId": folder, "title": format!("More {i}") }),
            )
            .await;
        app.set_access(&admin, &[a["id"].as_str().unwrap()], "PUBLIC", None, None)
            .await;
    }
    assert!(app.wait_until_processed(Duration::from_secs(60)).await);
    let (shown, eight) = page_cost(&app, &client, &url, &cookie).await;
    assert_eq!(shown, 8);
    // Six more assets would add at least six queries if each cost one.
    assert!(
        eight < two + 3,
        "{two} statements for 2 assets, {eight} for 8"
    );
    app.finish().await;
}
