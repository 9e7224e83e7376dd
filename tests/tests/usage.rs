//! Usage statistics end to end: scripted traffic (members viewing, partners
//! downloading, visitors opening a link) counted exactly by every grouping,
//! live before the rollup and the same after it, however the rollup is cut
//! into batches or repeated; partners see only their organisation; the CSV
//! export equals the query; anomaly alerts fire once per burst.

use std::time::Duration;

use chrono::{DateTime, NaiveDate, TimeZone, Utc};
use serde_json::{Value, json};
use vitrine_tests::{Partner, TestApp, UploadFile, error_code, eventually};

const STATS: &str = "query($f: UsageFilterInput, $from: NaiveDate!, $to: NaiveDate!, $g: [UsageGrouping!]!) {
  usageStats(filter: $f, from: $from, to: $to, groupBy: $g) {
    rows { period assetId accessorType partnerOrgId shareLinkId views downloads shares shareOpens lastAccessAt }
    totals { views downloads shares shareOpens }
  } }";

const DAY1: &str = "2027-03-10";
const DAY2: &str = "2027-03-11";

fn day1_noon() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2027, 3, 10, 12, 0, 0).unwrap()
}

/// Everything the script made.
struct Scene {
    admin: String,
    a: String,
    b: String,
    p1: Partner,
    p2: Partner,
    link1: String,
    link2: String,
    /// Stops the worker started for Redis runs.
    _worker: tokio_util::sync::CancellationToken,
}

async fn stats(app: &TestApp, token: &str, filter: Value, group_by: &[&str]) -> Value {
    let body = app
        .gql(
            Some(token),
            STATS,
            json!({ "f": filter, "from": DAY1, "to": DAY2, "g": group_by }),
        )
        .await;
    assert!(body["errors"].is_null(), "{body}");
    body["data"]["usageStats"].clone()
}

/// Rows as (dimension values..., views, downloads, shares, shareOpens), sorted.
fn table(report: &Value, dims: &[&str]) -> Vec<(Vec<String>, [i64; 4])> {
    let mut rows: Vec<(Vec<String>, [i64; 4])> = report["rows"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            (
                dims.iter()
                    .map(|d| r[*d].as_str().unwrap_or("-").to_owned())
                    .collect(),
                [
                    r["views"].as_i64().unwrap(),
                    r["downloads"].as_i64().unwrap(),
                    r["shares"].as_i64().unwrap(),
                    r["shareOpens"].as_i64().unwrap(),
                ],
            )
        })
        .collect();
    rows.sort();
    rows
}

fn row(dims: &[&str], counts: [i64; 4]) -> (Vec<String>, [i64; 4]) {
    (dims.iter().map(|d| (*d).to_owned()).collect(), counts)
}

async fn get_n(app: &TestApp, url: &str, n: usize) {
    for _ in 0..n {
        let r = app.fetch(url).await;
        assert_eq!(r.status(), 200, "{url}");
        r.bytes().await.unwrap();
    }
}

async fn share(app: &TestApp, admin: &str, assets: &[&str]) -> (String, String) {
    app.create_share_link(
        admin,
        json!({ "assetIds": assets, "scope": "LOWRES_DOWNLOAD" }),
    )
    .await
}

/// The script, on day 1 at noon then day 2:
/// - the admin views A's thumbnail 3 times (day 1) and B's once (day 2);
/// - partner 1 downloads A's lowres twice and B's original once;
/// - partner 2 downloads B's lowres once;
/// - the admin shares A (link 1) and A+B (link 2);
/// - a visitor opens link 1 twice and views its image once.
async fn script(app: &TestApp) -> Scene {
    app.clock.set(day1_noon());
    let worker = app.start_worker_if_needed().await;
    let admin = app.admin_token().await;
    let folder = app.create_folder(&admin, None, "Campaign").await;
    let mut ids = Vec::new();
    for _ in 0..2 {
        let a = app
            .upload_asset(
                &admin,
                &UploadFile::fixture("chelsea.png"),
                json!({ "folderId": folder }),
            )
            .await;
        ids.push(a["id"].as_str().unwrap().to_owned());
    }
    assert!(app.wait_until_processed(Duration::from_secs(60)).await);
    let (a, b) = (ids[0].clone(), ids[1].clone());
    app.set_access(&admin, &[&a, &b], "PUBLIC", None, None)
        .await;
    let p1 = app
        .create_partner(&admin, "Retailer One", "buyer@one.example")
        .await;
    let p2 = app
        .create_partner(&admin, "Retailer Two", "buyer@two.example")
        .await;
    for p in [&p1, &p2] {
        app.grant(&admin, &folder, "PARTNER_ORG", &p.org_id, "DOWNLOAD")
            .await;
    }

    let url = app
        .delivery_url(&admin, &a, "THUMBNAIL", None)
        .await
        .unwrap();
    get_n(app, &url, 3).await;
    let url = app
        .delivery_url(&p1.token, &a, "LOWRES", None)
        .await
        .unwrap();
    get_n(app, &url, 2).await;
    let url = app
        .delivery_url(&p1.token, &b, "ORIGINAL", None)
        .await
        .unwrap();
    get_n(app, &url, 1).await;
    let url = app
        .delivery_url(&p2.token, &b, "LOWRES", None)
        .await
        .unwrap();
    get_n(app, &url, 1).await;
    let (page1, link1) = share(app, &admin, &[&a]).await;
    let (_, link2) = share(app, &admin, &[&a, &b]).await;
    let visitor = reqwest::Client::new();
    let mut image = None;
    for _ in 0..2 {
        let html = visitor
            .get(&page1)
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        image = html
            .split("src=\"")
            .nth(1)
            .and_then(|r| r.split('"').next())
            .map(|u| format!("{}{}", app.base, u.replace("&amp;", "&")));
    }
    get_n(app, &image.expect("the page shows link 1's image"), 1).await;

    // Day 2 (sessions last 12 hours: everyone signs in again).
    app.clock.set(day1_noon() + chrono::Duration::days(1));
    let admin = app
        .login("admin@vitrine.test", vitrine_tests::PASSWORD)
        .await;
    let p1 = Partner {
        token: app
            .login("buyer@one.example", vitrine_tests::PASSWORD)
            .await,
        ..p1
    };
    let url = app.delivery_url(&admin, &b, "PREVIEW", None).await.unwrap();
    get_n(app, &url, 1).await;
    Scene {
        admin,
        a,
        b,
        p1,
        p2,
        link1,
        link2,
        _worker: worker,
    }
}

/// Every grouping the issue names, checked against the script.
async fn assert_counts(app: &TestApp, s: &Scene) {
    let by_accessor = stats(app, &s.admin, Value::Null, &["ACCESSOR_TYPE"]).await;
    assert_eq!(
        table(&by_accessor, &["accessorType"]),
        vec![
            row(&["MEMBER"], [4, 0, 3, 0]),
            row(&["PARTNER"], [0, 4, 0, 0]),
            row(&["VISITOR"], [1, 0, 0, 2]),
        ],
        "{by_accessor}"
    );
    assert_eq!(
        by_accessor["totals"],
        json!({ "views": 5, "downloads": 4, "shares": 3, "shareOpens": 2 })
    );
    let by_day = stats(app, &s.admin, Value::Null, &["DAY"]).await;
    assert_eq!(
        table(&by_day, &["period"]),
        vec![row(&[DAY1], [4, 4, 3, 2]), row(&[DAY2], [1, 0, 0, 0])],
        "{by_day}"
    );
    let by_day_accessor = stats(app, &s.admin, Value::Null, &["DAY", "ACCESSOR_TYPE"]).await;
    assert_eq!(
        table(&by_day_accessor, &["period", "accessorType"]),
        vec![
            row(&[DAY1, "MEMBER"], [3, 0, 3, 0]),
            row(&[DAY1, "PARTNER"], [0, 4, 0, 0]),
            row(&[DAY1, "VISITOR"], [1, 0, 0, 2]),
            row(&[DAY2, "MEMBER"], [1, 0, 0, 0]),
        ]
    );
    let by_week = stats(app, &s.admin, Value::Null, &["WEEK"]).await;
    // 2027-03-10 is a Wednesday, the 11th a Thursday: one ISO week.
    assert_eq!(
        table(&by_week, &["period"]),
        vec![row(&["2027-03-08"], [5, 4, 3, 2])]
    );
    let by_month = stats(app, &s.admin, Value::Null, &["MONTH"]).await;
    assert_eq!(
        table(&by_month, &["period"]),
        vec![row(&["2027-03-01"], [5, 4, 3, 2])]
    );
    let by_asset = stats(app, &s.admin, Value::Null, &["ASSET"]).await;
    assert_eq!(table(&by_asset, &["assetId"]), {
        let mut t = vec![row(&[&s.a], [4, 2, 2, 2]), row(&[&s.b], [1, 2, 1, 0])];
        t.sort();
        t
    });
    let by_org = stats(app, &s.admin, Value::Null, &["PARTNER_ORG"]).await;
    let mut expected = vec![
        row(&["-"], [5, 0, 3, 2]),
        row(&[&s.p1.org_id], [0, 3, 0, 0]),
        row(&[&s.p2.org_id], [0, 1, 0, 0]),
    ];
    expected.sort();
    assert_eq!(table(&by_org, &["partnerOrgId"]), expected);
    let by_link = stats(app, &s.admin, Value::Null, &["SHARE_LINK"]).await;
    let mut expected = vec![
        row(&["-"], [4, 4, 0, 0]),
        row(&[&s.link1], [1, 0, 1, 2]),
        row(&[&s.link2], [0, 0, 2, 0]),
    ];
    expected.sort();
    assert_eq!(table(&by_link, &["shareLinkId"]), expected);
    // Filters narrow.
    let partner_downloads = stats(
        app,
        &s.admin,
        json!({ "accessorTypes": ["PARTNER"], "actions": ["DOWNLOAD"], "assetIds": [s.b] }),
        &[],
    )
    .await;
    assert_eq!(table(&partner_downloads, &[]), vec![row(&[], [0, 2, 0, 0])]);
    let through_link = stats(app, &s.admin, json!({ "shareLinkId": s.link1 }), &[]).await;
    assert_eq!(table(&through_link, &[]), vec![row(&[], [1, 0, 1, 2])]);

    // Top assets and one asset's usage.
    let body = app
        .gql(
            Some(&s.admin),
            "query($from: NaiveDate!, $to: NaiveDate!) { topAssets(metric: VIEWS, from: $from, to: $to, first: 5) { asset { id } views downloads shares shareOpens } }",
            json!({ "from": DAY1, "to": DAY2 }),
        )
        .await;
    assert_eq!(
        body["data"]["topAssets"],
        json!([
            { "asset": { "id": s.a }, "views": 4, "downloads": 2, "shares": 2, "shareOpens": 2 },
            { "asset": { "id": s.b }, "views": 1, "downloads": 2, "shares": 1, "shareOpens": 0 },
        ]),
        "{body}"
    );
    // Whole calendar months read the monthly totals (once rolled up), the
    // days around them the daily rows: the same figures.
    for (from, to, group_by) in [
        ("2027-03-01", "2027-03-31", vec!["MONTH"]),
        ("2027-02-15", "2027-04-30", vec!["MONTH", "ASSET"]),
        ("2027-03-01", "2027-03-10", vec!["ASSET"]),
    ] {
        let body = app
            .gql(
                Some(&s.admin),
                STATS,
                json!({ "from": from, "to": to, "g": group_by }),
            )
            .await;
        let report = &body["data"]["usageStats"];
        assert_eq!(
            report["totals"],
            if to == "2027-03-10" {
                json!({ "views": 4, "downloads": 4, "shares": 3, "shareOpens": 2 })
            } else {
                json!({ "views": 5, "downloads": 4, "shares": 3, "shareOpens": 2 })
            },
            "{from}..{to}: {body}"
        );
        if group_by == ["MONTH", "ASSET"] {
            let mut expected = vec![
                row(&["2027-03-01", &s.a], [4, 2, 2, 2]),
                row(&["2027-03-01", &s.b], [1, 2, 1, 0]),
            ];
            expected.sort();
            assert_eq!(table(report, &["period", "assetId"]), expected);
        }
    }

    // A whole calendar month reads the monthly totals (once rolled up).
    let body = app
        .gql(
            Some(&s.admin),
            "{ topAssets(metric: DOWNLOADS, from: \"2027-03-01\", to: \"2027-03-31\", first: 1) { asset { id } downloads views } }",
            Value::Null,
        )
        .await;
    let top = std::cmp::min(&s.a, &s.b);
    assert_eq!(
        body["data"]["topAssets"],
        json!([{ "asset": { "id": top }, "downloads": 2, "views": if *top == s.a { 4 } else { 1 } }]),
        "ties are ranked by id: {body}"
    );
    let body = app
        .gql(
            Some(&s.admin),
            "query($id: ID!) { asset(id: $id) { usage { views downloads shares shareOpens lastAccessAt byAccessorType { accessorType views downloads shares shareOpens } } } }",
            json!({ "id": s.a }),
        )
        .await;
    let usage = &body["data"]["asset"]["usage"];
    assert_eq!(usage["views"], 4, "{body}");
    assert_eq!(usage["downloads"], 2);
    assert_eq!(
        usage["byAccessorType"],
        json!([
            { "accessorType": "MEMBER", "views": 3, "downloads": 0, "shares": 2, "shareOpens": 0 },
            { "accessorType": "PARTNER", "views": 0, "downloads": 2, "shares": 0, "shareOpens": 0 },
            { "accessorType": "VISITOR", "views": 1, "downloads": 0, "shares": 0, "shareOpens": 2 },
        ])
    );
    let last: DateTime<Utc> = usage["lastAccessAt"].as_str().unwrap().parse().unwrap();
    assert_eq!(last.date_naive(), DAY1.parse::<NaiveDate>().unwrap());

    // A page of assets gets its usage in one batch; each asset its own.
    let page = app
        .gql(
            Some(&s.admin),
            "{ assets(first: 50) { edges { node { id usage { views downloads byAccessorType { accessorType views downloads } } } } } }",
            Value::Null,
        )
        .await;
    let edges = page["data"]["assets"]["edges"].as_array().expect("a page");
    let usage_of = |id: &str| {
        edges
            .iter()
            .find(|e| e["node"]["id"] == id)
            .map(|e| e["node"]["usage"].clone())
            .unwrap_or_else(|| panic!("{id} listed: {page}"))
    };
    assert_eq!(usage_of(&s.a)["views"], 4, "{page}");
    assert_eq!(usage_of(&s.a)["downloads"], 2);
    assert_eq!(usage_of(&s.b)["views"], 1, "{page}");
    assert_eq!(usage_of(&s.b)["downloads"], 2);
    assert_eq!(
        usage_of(&s.a)["byAccessorType"],
        json!([
            { "accessorType": "MEMBER", "views": 3, "downloads": 0 },
            { "accessorType": "PARTNER", "views": 0, "downloads": 2 },
            { "accessorType": "VISITOR", "views": 1, "downloads": 0 },
        ])
    );
}

#[tokio::test]
async fn scripted_traffic_is_counted_exactly_live_and_after_any_rollup() {
    let app = vitrine_tests::spawn_app().await;
    let s = script(&app).await;

    // Live: nothing rolled up yet, every figure from the audit log's tail.
    assert_eq!(app.count_rows("usage_daily").await, 0);
    assert_counts(&app, &s).await;

    // Killed between batches: one sequence number per batch, stopped as
    // soon as something is rolled up (the rest of the script still in the
    // tail); the figures do not move.
    let mut partial = app.rollup_usage(1, Some(1)).await;
    while app.count_rows("usage_daily").await == 0 {
        partial = app.rollup_usage(1, Some(1)).await;
        assert!(partial.ran && partial.batches == 1, "{partial:?}");
    }
    assert_counts(&app, &s).await;

    // The rest, then again: nothing counted twice.
    let rest = app.rollup_usage(5, None).await;
    assert_eq!(rest.from_seq, partial.to_seq);
    assert_counts(&app, &s).await;
    let again = app.rollup_usage(50_000, None).await;
    assert_eq!(again.batches, 0);
    assert_eq!(again.from_seq, again.to_seq);
    assert_counts(&app, &s).await;

    // New traffic after the rollup shows at once (live tail on top).
    let url = app
        .delivery_url(&s.admin, &s.b, "THUMBNAIL", None)
        .await
        .unwrap();
    get_n(&app, &url, 2).await;
    let body = app
        .gql(
            Some(&s.admin),
            "query($id: ID!) { asset(id: $id) { usage { views } } }",
            json!({ "id": s.b }),
        )
        .await;
    assert_eq!(body["data"]["asset"]["usage"]["views"], 3, "{body}");
    app.finish().await;
}

#[tokio::test]
async fn partners_see_only_their_organisation_and_others_are_refused() {
    let app = vitrine_tests::spawn_app().await;
    let s = script(&app).await;
    app.rollup_usage(50_000, None).await;

    // Partner 1: its own downloads, nothing of members, visitors or partner 2,
    // even when it asks for partner 2 by name.
    let mine = stats(&app, &s.p1.token, Value::Null, &["ASSET", "ACCESSOR_TYPE"]).await;
    let mut expected = vec![
        row(&[&s.a, "PARTNER"], [0, 2, 0, 0]),
        row(&[&s.b, "PARTNER"], [0, 1, 0, 0]),
    ];
    expected.sort();
    assert_eq!(table(&mine, &["assetId", "accessorType"]), expected);
    let theirs = stats(
        &app,
        &s.p1.token,
        json!({ "partnerOrgId": s.p2.org_id }),
        &["PARTNER_ORG"],
    )
    .await;
    assert_eq!(theirs["rows"], json!([]), "{theirs}");
    let body = app
        .gql(
            Some(&s.p1.token),
            "query($id: ID!) { asset(id: $id) { usage { views downloads shares byAccessorType { accessorType } } } }",
            json!({ "id": s.b }),
        )
        .await;
    assert_eq!(
        body["data"]["asset"]["usage"],
        json!({ "views": 0, "downloads": 1, "shares": 0, "byAccessorType": [{ "accessorType": "PARTNER" }] }),
        "{body}"
    );

    // An editor (no VIEW_STATS), a visitor-less anonymous caller.
    app.create_member(
        "editor@brand.example",
        vitrine_tests::vitrine_entity::Role::Editor,
    )
    .await;
    let editor = app
        .login("editor@brand.example", vitrine_tests::PASSWORD)
        .await;
    let body = app
        .gql(
            Some(&editor),
            STATS,
            json!({ "from": DAY1, "to": DAY2, "g": [] }),
        )
        .await;
    assert_eq!(error_code(&body), Some("FORBIDDEN"), "{body}");
    let body = app
        .gql(None, STATS, json!({ "from": DAY1, "to": DAY2, "g": [] }))
        .await;
    assert_eq!(error_code(&body), Some("UNAUTHENTICATED"), "{body}");
    let body = app
        .gql(
            Some(&s.admin),
            STATS,
            json!({ "from": DAY2, "to": DAY1, "g": [] }),
        )
        .await;
    assert_eq!(error_code(&body), Some("BAD_USER_INPUT"), "{body}");
    let body = app
        .gql(
            Some(&s.admin),
            STATS,
            json!({ "from": DAY1, "to": DAY2, "g": ["DAY", "MONTH"] }),
        )
        .await;
    assert_eq!(error_code(&body), Some("BAD_USER_INPUT"), "{body}");
    app.finish().await;
}

#[tokio::test]
async fn the_csv_export_holds_exactly_the_rows_of_the_query() {
    let app = vitrine_tests::spawn_app().await;
    let s = script(&app).await;
    app.rollup_usage(7, Some(2)).await;
    let report = stats(&app, &s.admin, Value::Null, &["DAY", "ACCESSOR_TYPE"]).await;
    let url = format!(
        "{}/stats/usage.csv?from={DAY1}&to={DAY2}&groupBy=DAY,ACCESSOR_TYPE",
        app.base
    );
    let response = app
        .client
        .get(&url)
        .bearer_auth(&s.admin)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    assert!(
        response.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/csv")
    );
    let csv = response.text().await.unwrap();
    let mut lines = csv.lines();
    assert_eq!(
        lines.next(),
        Some("day,accessor_type,views,downloads,shares,share_opens,last_access_at")
    );
    let expected: Vec<String> = report["rows"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            let last: DateTime<Utc> = r["lastAccessAt"].as_str().unwrap().parse().unwrap();
            format!(
                "{},{},{},{},{},{},{}",
                r["period"].as_str().unwrap(),
                r["accessorType"].as_str().unwrap(),
                r["views"],
                r["downloads"],
                r["shares"],
                r["shareOpens"],
                last.to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
            )
        })
        .collect();
    assert_eq!(lines.map(str::to_owned).collect::<Vec<_>>(), expected);
    assert_eq!(expected.len(), 4);

    // Refusals are statuses, not files.
    let anonymous = app.client.get(&url).send().await.unwrap();
    assert_eq!(anonymous.status(), 401);
    let partner_other = app
        .client
        .get(format!("{url}&partnerOrgId={}", s.p2.org_id))
        .bearer_auth(&s.p1.token)
        .send()
        .await
        .unwrap();
    assert_eq!(partner_other.status(), 200);
    assert_eq!(
        partner_other.text().await.unwrap().lines().count(),
        1,
        "only the header"
    );
    let bad = app
        .client
        .get(format!(
            "{}/stats/usage.csv?from=2026-13-01&to={DAY2}",
            app.base
        ))
        .bearer_auth(&s.admin)
        .send()
        .await
        .unwrap();
    assert_eq!(bad.status(), 400);
    app.finish().await;
}

#[tokio::test]
async fn a_burst_of_downloads_through_one_link_raises_exactly_one_alert() {
    let app = vitrine_tests::spawn_with(|env| {
        env.insert("VITRINE_ANOMALY_INTERVAL".into(), "200ms".into());
        env.insert("VITRINE_ANOMALY_LINK_DOWNLOADS".into(), "5".into());
        env.insert("VITRINE_ANOMALY_WINDOW".into(), "10m".into());
        for key in ["ACTOR", "IP"] {
            env.insert(format!("VITRINE_ANOMALY_{key}_DOWNLOADS"), "0".into());
        }
        env.insert("VITRINE_ANOMALY_DISTINCT_ASSETS".into(), "0".into());
    })
    .await;
    let worker = app.start_worker_if_needed().await;
    let admin = app.admin_token().await;
    let asset = app
        .upload_asset(&admin, &UploadFile::fixture("chelsea.png"), json!({}))
        .await["id"]
        .as_str()
        .unwrap()
        .to_owned();
    assert!(app.wait_until_processed(Duration::from_secs(60)).await);
    app.set_access(&admin, &[&asset], "PUBLIC", None, None)
        .await;
    let (page, link) = share(&app, &admin, &[&asset]).await;

    let mut ws = app
        .ws_connect(json!({ "authorization": format!("Bearer {admin}") }))
        .await;
    assert_eq!(ws.message().await["type"], "connection_ack");
    ws.subscribe(
        "alerts",
        "subscription { anomalies { rule subject count threshold shareLinkId assetIds } }",
    )
    .await;
    tokio::time::sleep(Duration::from_millis(300)).await;

    // The visitor's download link from the page.
    let visitor = reqwest::Client::new();
    let html = visitor
        .get(&page)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let download = html
        .split("class=\"download\" href=\"")
        .nth(1)
        .and_then(|r| r.split('"').next())
        .map(|u| format!("{}{}", app.base, u.replace("&amp;", "&")))
        .expect("a download link");

    // Normal use: five downloads (the threshold), no alert.
    get_n(&app, &download, 5).await;
    assert!(ws.quiet_for(Duration::from_millis(1500)).await.is_none());
    let alerts = || async {
        let body = app
            .gql(
                Some(&admin),
                "{ auditEvents(filter: { action: ANOMALY_DETECTED }) { edges { node { actorKind details } } } }",
                Value::Null,
            )
            .await;
        body["data"]["auditEvents"]["edges"]
            .as_array()
            .cloned()
            .unwrap_or_default()
    };
    assert!(alerts().await.is_empty());

    // A burst: twenty more within seconds. One alert, however long it goes on.
    get_n(&app, &download, 20).await;
    let next = ws.message().await;
    let alert = &next["payload"]["data"]["anomalies"];
    assert_eq!(alert["rule"], "LINK_DOWNLOADS", "{next}");
    assert_eq!(alert["subject"], format!("link:{link}"));
    assert_eq!(alert["count"], 6);
    assert_eq!(alert["threshold"], 5);
    assert_eq!(alert["shareLinkId"], link.as_str());
    assert_eq!(alert["assetIds"][0], asset.as_str());
    get_n(&app, &download, 10).await;
    assert!(ws.quiet_for(Duration::from_millis(1500)).await.is_none());
    assert!(
        eventually(Duration::from_secs(5), || async {
            alerts().await.len() == 1
        })
        .await
    );
    let recorded = alerts().await;
    assert_eq!(recorded[0]["node"]["actorKind"], "SYSTEM");
    worker.cancel();
    app.finish().await;
}
