//! Search from the outside: the web-search language (phrases, prefixes,
//! exclusions, OR, stemming) ranked the same way on SQLite and PostgreSQL,
//! facets equal to counts made by hand, partners counting only what they
//! see, automatic tags with their sources, and removed ones staying removed.

use std::collections::BTreeMap;
use std::time::Duration;

use serde_json::{Value, json};
use vitrine_entity::Clock;
use vitrine_tests::{TestApp, UploadFile, error_code, fixture, spawn_app, spawn_with};

const SEARCH: &str =
    "query($q: String!, $f: AssetFilter, $o: SearchOrderInput, $first: Int, $after: String) {
  search(query: $q, filter: $f, orderBy: $o, first: $first, after: $after) {
    edges { cursor score node { id title tags } }
    pageInfo { hasNextPage endCursor }
    totalCount
    facets { tags { value count } folders { value count } stages { value count }
             moderationStates { value count } licenseStates { value count }
             orientations { value count } cameraModels { value count } }
  } }";

/// The small catalogue every backend indexes: (title, description, tags).
const CATALOGUE: [(&str, &str, &[&str]); 6] = [
    (
        "Rose gold ring 0042",
        "Front shot on marble",
        &["ss27", "ring"],
    ),
    (
        "Rose gold earrings",
        "Pair of earrings in rose gold",
        &["ss27", "earring"],
    ),
    (
        "White gold ring",
        "A ring with a diamond, rose petals behind",
        &["ss26"],
    ),
    (
        "Gold necklace",
        "Necklace photographed in running water",
        &["ss27"],
    ),
    ("Silver bracelet", "Bracelet beside a ring", &["rose gold"]),
    ("Ring box", "Empty box for rings", &["packaging"]),
];

async fn load_catalogue(app: &TestApp, token: &str, folder: Option<&str>) -> Vec<String> {
    let file = UploadFile::new("product.png", "image/png", fixture("coffee.png"));
    let mut ids = Vec::new();
    for (title, description, tags) in CATALOGUE {
        let asset = app
            .upload_asset(
                token,
                &file,
                json!({ "title": title, "description": description, "tags": tags, "folderId": folder }),
            )
            .await;
        ids.push(asset["id"].as_str().unwrap().to_owned());
        // Distinct creation instants: ties are broken newest first.
        app.clock.advance(chrono::Duration::seconds(1));
    }
    ids
}

async fn search(app: &TestApp, token: &str, q: &str, filter: Value) -> Value {
    let body = app
        .gql(
            Some(token),
            SEARCH,
            json!({ "q": q, "f": filter, "first": 50 }),
        )
        .await;
    assert!(body["errors"].is_null(), "search {q:?}: {body}");
    body["data"]["search"].clone()
}

fn titles(results: &Value) -> Vec<String> {
    results["edges"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["node"]["title"].as_str().unwrap().to_owned())
        .collect()
}

/// The queries and the order the ranking rule gives (per word or phrase:
/// title 4, else tag 2, else the rest 1; ties newest first).
fn expectations() -> Vec<(&'static str, Vec<&'static str>)> {
    vec![
        (
            "rose gold ring -earring",
            vec!["Rose gold ring 0042", "White gold ring", "Silver bracelet"],
        ),
        (
            "\"rose gold\"",
            vec![
                "Rose gold earrings",
                "Rose gold ring 0042",
                "Silver bracelet",
            ],
        ),
        ("neck*", vec!["Gold necklace"]),
        (
            "rings",
            vec![
                "Ring box",
                "White gold ring",
                "Rose gold ring 0042",
                "Silver bracelet",
            ],
        ),
        (
            "bracelet OR necklace",
            vec!["Silver bracelet", "Gold necklace"],
        ),
        ("-gold", vec!["Ring box"]),
        ("running", vec!["Gold necklace"]),
        ("ss27 -\"rose gold\"", vec!["Gold necklace"]),
        ("0042", vec!["Rose gold ring 0042"]),
        ("diamonds", vec!["White gold ring"]),
        ("nothing-matches-this", vec![]),
    ]
}

async fn ranked(app: &TestApp, token: &str) -> Vec<(String, Vec<String>)> {
    let mut out = Vec::new();
    for (q, _) in expectations() {
        out.push((
            q.to_owned(),
            titles(&search(app, token, q, json!({})).await),
        ));
    }
    out
}

#[tokio::test]
async fn the_search_language_ranks_the_same_on_both_databases() {
    // `app` runs on the configured database (PostgreSQL in CI's second
    // run); `embedded` always on SQLite: the same catalogue must give the
    // same ordered results on both, and the order the ranking rule promises.
    let app = spawn_app().await;
    let embedded = spawn_with(|env| {
        env.remove("VITRINE_DATABASE_URL");
    })
    .await;
    let mut results = Vec::new();
    for a in [&app, &embedded] {
        let admin = a.admin_token().await;
        load_catalogue(a, &admin, None).await;
        results.push(ranked(a, &admin).await);
    }
    assert_eq!(results[0], results[1], "the two databases disagree");
    for ((q, got), (_, want)) in results[0].iter().zip(expectations()) {
        assert_eq!(got, &want, "query {q:?}");
    }
}

#[tokio::test]
async fn scores_cursors_and_bad_input() {
    let app = spawn_app().await;
    let admin = app.admin_token().await;
    load_catalogue(&app, &admin, None).await;
    let r = search(&app, &admin, "rose gold ring -earring", json!({})).await;
    let scores: Vec<i64> = r["edges"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["score"].as_i64().unwrap())
        .collect();
    assert_eq!(scores, [12, 9, 5]);
    assert_eq!(r["totalCount"], 3);

    // Pages of one: the keyset cursor walks the same order without repeats.
    let mut seen = Vec::new();
    let mut after: Option<String> = None;
    loop {
        let body = app
            .gql(
                Some(&admin),
                SEARCH,
                json!({ "q": "rings", "f": {}, "first": 1, "after": after }),
            )
            .await;
        let page = &body["data"]["search"];
        seen.extend(titles(page));
        if page["pageInfo"]["hasNextPage"] != true {
            break;
        }
        after = page["pageInfo"]["endCursor"].as_str().map(str::to_owned);
    }
    assert_eq!(
        seen,
        [
            "Ring box",
            "White gold ring",
            "Rose gold ring 0042",
            "Silver bracelet"
        ]
    );

    // Another order: by title, ascending.
    let body = app
        .gql(
            Some(&admin),
            SEARCH,
            json!({ "q": "gold", "o": { "field": "TITLE", "direction": "ASC" }, "first": 2 }),
        )
        .await;
    assert_eq!(
        titles(&body["data"]["search"]),
        ["Gold necklace", "Rose gold earrings"]
    );
    let after = body["data"]["search"]["pageInfo"]["endCursor"].clone();
    let body = app
        .gql(
            Some(&admin),
            SEARCH,
            json!({ "q": "gold", "o": { "field": "TITLE", "direction": "ASC" }, "first": 5, "after": after }),
        )
        .await;
    assert_eq!(
        titles(&body["data"]["search"]),
        ["Rose gold ring 0042", "Silver bracelet", "White gold ring"]
    );

    for (q, f, code) in [
        ("x", json!({}), None),
        (
            "a b c d e f g h i j k l m n o p q",
            json!({}),
            Some("BAD_USER_INPUT"),
        ),
        (
            "",
            json!({ "similarTo": { "assetId": "00000000-0000-0000-0000-000000000000", "maxDistance": 40 } }),
            Some("BAD_USER_INPUT"),
        ),
        (
            "",
            json!({ "usableFor": { "territory": "Germany" } }),
            Some("BAD_USER_INPUT"),
        ),
    ] {
        let body = app
            .gql(Some(&admin), SEARCH, json!({ "q": q, "f": f }))
            .await;
        assert_eq!(error_code(&body), code, "{q:?}: {body}");
    }
    let body = app.gql(None, SEARCH, json!({ "q": "ring" })).await;
    assert_eq!(error_code(&body), Some("UNAUTHENTICATED"));
    let body = app
        .gql(Some("forged.token.value"), SEARCH, json!({ "q": "ring" }))
        .await;
    assert_eq!(error_code(&body), Some("UNAUTHENTICATED"));
}

fn facet(results: &Value, name: &str) -> BTreeMap<String, u64> {
    results["facets"][name]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| {
            (
                f["value"].as_str().unwrap_or("(none)").to_owned(),
                f["count"].as_u64().unwrap(),
            )
        })
        .collect()
}

#[tokio::test]
async fn facets_count_what_matches_and_partners_count_only_their_own() {
    let app = spawn_app().await;
    let admin = app.admin_token().await;
    let a = app.create_partner(&admin, "Maison A", "a@a.test").await;
    let b = app.create_partner(&admin, "Maison B", "b@b.test").await;
    let fa = app.create_folder(&admin, None, "For A").await;
    let fb = app.create_folder(&admin, None, "For B").await;
    app.grant(&admin, &fa, "PARTNER_ORG", &a.org_id, "VIEW")
        .await;
    app.grant(&admin, &fb, "PARTNER_ORG", &b.org_id, "VIEW")
        .await;
    let in_a = load_catalogue(&app, &admin, Some(&fa)).await;
    let in_b = load_catalogue(&app, &admin, Some(&fb)).await;
    // Only some are published: A gets its first four, B its first two.
    let publish: Vec<&str> = in_a[..4]
        .iter()
        .chain(in_b[..2].iter())
        .map(String::as_str)
        .collect();
    let body = app.set_access(&admin, &publish, "PUBLIC", None, None).await;
    assert!(body["errors"].is_null(), "{body}");

    // The merchandiser sees all twelve; facets equal counts made by hand.
    let all = search(&app, &admin, "gold", json!({})).await;
    let matched: Vec<&(&str, &str, &[&str])> = CATALOGUE
        .iter()
        .filter(|(t, d, tags)| {
            let text = format!("{t} {d} {}", tags.join(" ")).to_lowercase();
            text.contains("gold")
        })
        .collect();
    assert_eq!(all["totalCount"], 2 * matched.len() as u64);
    let mut by_hand: BTreeMap<String, u64> = BTreeMap::new();
    for (_, _, tags) in &matched {
        for t in tags.iter() {
            *by_hand.entry((*t).to_owned()).or_default() += 2;
        }
    }
    let tags = facet(&all, "tags");
    for (tag, n) in &by_hand {
        assert_eq!(tags.get(tag), Some(n), "tag {tag}: {tags:?}");
    }
    let folders = facet(&all, "folders");
    assert_eq!(folders.get(&fa), Some(&(matched.len() as u64)));
    assert_eq!(folders.get(&fb), Some(&(matched.len() as u64)));
    assert_eq!(
        facet(&all, "stages").get("RAW"),
        Some(&(2 * matched.len() as u64))
    );
    assert_eq!(
        facet(&all, "licenseStates").get("UNLICENSED"),
        Some(&(2 * matched.len() as u64))
    );
    // A request that selects some facets gets the same counts for those.
    let body = app
        .gql(
            Some(&admin),
            "query { search(query: \"gold\") { totalCount facets { stages { value count } folders { value count } } } }",
            json!({}),
        )
        .await;
    let some = &body["data"]["search"];
    assert_eq!(some["totalCount"], all["totalCount"], "{body}");
    assert_eq!(facet(some, "stages"), facet(&all, "stages"));
    assert_eq!(facet(some, "folders"), facet(&all, "folders"));

    // The same query as each partner: its own published assets only, and
    // facet counts over those alone.
    let ra = search(&app, &a.token, "gold", json!({})).await;
    let rb = search(&app, &b.token, "gold", json!({})).await;
    let ids = |r: &Value| -> Vec<String> {
        r["edges"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e["node"]["id"].as_str().unwrap().to_owned())
            .collect()
    };
    let (ids_a, ids_b) = (ids(&ra), ids(&rb));
    assert!(ids_a.iter().all(|i| in_a[..4].contains(i)), "{ids_a:?}");
    assert!(ids_b.iter().all(|i| in_b[..2].contains(i)), "{ids_b:?}");
    // Gold is in the first four titles and in the fifth's tags.
    assert_eq!(ra["totalCount"], 4);
    assert_eq!(rb["totalCount"], 2);
    assert_eq!(facet(&ra, "folders"), BTreeMap::from([(fa.clone(), 4)]));
    assert_eq!(facet(&rb, "folders"), BTreeMap::from([(fb.clone(), 2)]));
    assert_eq!(facet(&ra, "tags").get("ss27"), Some(&3));
    assert_eq!(facet(&rb, "tags").get("ss27"), Some(&2));
    assert_eq!(facet(&rb, "tags").get("ss26"), None);

    // What only members see is searched for members only: the file name
    // ("product.png") and the folder path ("For A").
    for q in ["product", "\"for a\""] {
        let member = search(&app, &admin, q, json!({})).await;
        assert!(member["totalCount"].as_u64().unwrap() >= 6, "{q}: {member}");
        let partner = search(&app, &a.token, q, json!({})).await;
        assert_eq!(partner["totalCount"], 0, "{q}: {partner}");
        let excluded = search(&app, &a.token, &format!("gold -{q}"), json!({})).await;
        assert_eq!(excluded["totalCount"], 4, "{q}: {excluded}");
    }

    // A partner cannot filter into another's folder, nor by GPS.
    let body = app
        .gql(
            Some(&a.token),
            SEARCH,
            json!({ "q": "", "f": { "folderId": fb } }),
        )
        .await;
    assert_eq!(error_code(&body), Some("NOT_FOUND"));
    let body = app
        .gql(
            Some(&a.token),
            SEARCH,
            json!({ "q": "", "f": { "hasGps": true } }),
        )
        .await;
    assert_eq!(error_code(&body), Some("FORBIDDEN"));
}

const TAGS: &str = "query($id: ID!) { asset(id: $id) { tags tagDetails { name source } } }";

async fn wait_tagged(app: &TestApp, token: &str, id: &str, tag: &str) -> Value {
    for _ in 0..200 {
        let body = app.gql(Some(token), TAGS, json!({ "id": id })).await;
        let asset = &body["data"]["asset"];
        if asset["tags"]
            .as_array()
            .is_some_and(|t| t.iter().any(|x| x == tag))
        {
            return asset.clone();
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("{id} never got the tag {tag}");
}

fn source_of(asset: &Value, tag: &str) -> Option<String> {
    asset["tagDetails"]
        .as_array()?
        .iter()
        .find(|t| t["name"] == tag)
        .map(|t| t["source"].as_str().unwrap_or_default().to_owned())
}

#[tokio::test]
async fn automatic_tags_carry_their_source_and_a_removed_one_stays_removed() {
    let app = spawn_app().await;
    let admin = app.admin_token().await;
    let _worker = app.start_worker_if_needed().await;
    // The yellow flower: landscape, yellow, from the EXIF-less fixture.
    let flower = app
        .upload_asset(
            &admin,
            &UploadFile::fixture("yellow-flower.jpg"),
            json!({ "tags": ["Spring campaign"] }),
        )
        .await;
    let id = flower["id"].as_str().unwrap();
    let tagged = wait_tagged(&app, &admin, id, "yellow").await;
    assert_eq!(source_of(&tagged, "yellow").as_deref(), Some("AUTO_COLOR"));
    assert_eq!(
        source_of(&tagged, "spring campaign").as_deref(),
        Some("MANUAL")
    );
    let shape = ["landscape", "portrait", "square"]
        .into_iter()
        .find(|s| source_of(&tagged, s).is_some())
        .expect("an orientation tag");
    assert_eq!(source_of(&tagged, shape).as_deref(), Some("AUTO_EXIF"));

    // Filter by tag and source.
    let by_colour = json!({ "tags": ["yellow"], "tagSources": ["AUTO_COLOR"] });
    let r = search(&app, &admin, "", by_colour.clone()).await;
    assert_eq!(r["totalCount"], 1);

    // A person removes the colour tag; a new version (reprocessing and
    // retagging the asset) does not bring it back.
    let kept: Vec<String> = tagged["tags"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|t| t.as_str())
        .filter(|t| *t != "yellow")
        .map(str::to_owned)
        .collect();
    let body = app
        .gql(
            Some(&admin),
            "mutation($id: ID!, $i: UpdateAssetInput!) { updateAsset(id: $id, input: $i) { tags } }",
            json!({ "id": id, "i": { "tags": kept } }),
        )
        .await;
    assert!(body["errors"].is_null(), "{body}");
    let body = app
        .upload_gql(
            Some(&admin),
            "mutation($file: Upload!, $id: ID!) { uploadVersion(assetId: $id, file: $file) { id } }",
            json!({ "id": id }),
            &UploadFile::fixture("yellow-flower.jpg"),
        )
        .await;
    assert!(body["errors"].is_null(), "{body}");
    // Wait for the new version's processing (its tags are recomputed then).
    assert!(app.wait_until_processed(Duration::from_secs(30)).await);
    let after = app.gql(Some(&admin), TAGS, json!({ "id": id })).await;
    let after = &after["data"]["asset"];
    assert_eq!(source_of(after, "yellow"), None, "{after}");
    assert_eq!(source_of(after, shape).as_deref(), Some("AUTO_EXIF"));
    let r = search(&app, &admin, "", by_colour).await;
    assert_eq!(r["totalCount"], 0);
    // Typed again by hand, it is the person's tag.
    let mut again = kept.clone();
    again.push("yellow".into());
    let body = app
        .gql(
            Some(&admin),
            "mutation($id: ID!, $i: UpdateAssetInput!) { updateAsset(id: $id, input: $i) { tagDetails { name source } } }",
            json!({ "id": id, "i": { "tags": again } }),
        )
        .await;
    assert_eq!(
        source_of(&body["data"]["updateAsset"], "yellow").as_deref(),
        Some("MANUAL"),
        "{body}"
    );
}

#[tokio::test]
async fn similar_to_finds_near_duplicates_by_perceptual_hash() {
    let app = spawn_app().await;
    let admin = app.admin_token().await;
    let _worker = app.start_worker_if_needed().await;
    let garden = UploadFile::fixture("garden.jpg");
    let first = app
        .upload_asset(&admin, &garden, json!({ "title": "Garden" }))
        .await;
    app.upload_asset(&admin, &garden, json!({ "title": "Garden again" }))
        .await;
    app.upload_asset(
        &admin,
        &UploadFile::fixture("coffee.png"),
        json!({ "title": "Coffee" }),
    )
    .await;
    assert!(app.wait_until_processed(Duration::from_secs(30)).await);
    let id = first["id"].as_str().unwrap();
    let r = search(
        &app,
        &admin,
        "",
        json!({ "similarTo": { "assetId": id, "maxDistance": 0 } }),
    )
    .await;
    let mut got = titles(&r);
    got.sort();
    assert_eq!(got, ["Garden", "Garden again"]);
    // With every bit allowed to differ up to the limit, the coffee cup may
    // or may not come in, but the gardens always do; a partner without a
    // grant cannot use another asset as the reference.
    let p = app.create_partner(&admin, "Maison P", "p@p.test").await;
    let body = app
        .gql(
            Some(&p.token),
            SEARCH,
            json!({ "q": "", "f": { "similarTo": { "assetId": id } } }),
        )
        .await;
    assert_eq!(error_code(&body), Some("NOT_FOUND"), "{body}");
}

#[tokio::test]
async fn a_retag_run_applies_changed_rules_to_the_library_and_keeps_removals() {
    let app = spawn_app().await;
    let admin = app.admin_token().await;
    let _worker = app.start_worker_if_needed().await;
    let body = app
        .gql(
            Some(&admin),
            "mutation { createUploadPreset(input: { name: \"Shoot\", tags: [\"ss26\"] }) { id } }",
            json!({}),
        )
        .await;
    let preset = body["data"]["createUploadPreset"]["id"]
        .as_str()
        .unwrap_or_else(|| panic!("{body}"))
        .to_owned();
    let file = UploadFile::new("p.png", "image/png", fixture("coffee.png"));
    let mut ids = Vec::new();
    for i in 0..3 {
        let a = app
            .upload_asset(
                &admin,
                &file,
                json!({ "presetId": preset, "title": format!("P{i}"), "tags": ["hand"] }),
            )
            .await;
        assert_eq!(
            a["tags"],
            json!(["hand", "landscape", "low-res", "ss26"]),
            "{a}"
        );
        ids.push(a["id"].as_str().unwrap().to_owned());
    }
    assert!(app.wait_until_processed(Duration::from_secs(30)).await);
    // A person removes the shape tag of the first.
    let body = app
        .gql(
            Some(&admin),
            "mutation($id: ID!) { updateAsset(id: $id, input: { tags: [\"hand\", \"low-res\", \"ss26\"] }) { id } }",
            json!({ "id": ids[0] }),
        )
        .await;
    assert!(body["errors"].is_null(), "{body}");
    // The rule changes; uploads already made keep their tags until a run.
    let body = app
        .gql(
            Some(&admin),
            "mutation($id: ID!) { updateUploadPreset(id: $id, input: { name: \"Shoot\", tags: [\"ss27\"] }) { id } }",
            json!({ "id": preset }),
        )
        .await;
    assert!(body["errors"].is_null(), "{body}");
    // The tags apart from the colours (which processing adds meanwhile).
    let tags_of = |body: &Value| {
        let mut t: Vec<String> = body["data"]["asset"]["tagDetails"]
            .as_array()
            .unwrap_or_else(|| panic!("{body}"))
            .iter()
            .filter(|t| t["source"] != "AUTO_COLOR")
            .map(|t| t["name"].as_str().unwrap().to_owned())
            .collect();
        t.sort();
        json!(t)
    };
    let body = app.gql(Some(&admin), TAGS, json!({ "id": ids[1] })).await;
    assert_eq!(
        tags_of(&body),
        json!(["hand", "landscape", "low-res", "ss26"])
    );

    // Only administrators start runs.
    app.create_member("e@vitrine.test", vitrine_entity::Role::Editor)
        .await;
    let token = app.login("e@vitrine.test", vitrine_tests::PASSWORD).await;
    let body = app
        .gql(Some(&token), "mutation { startRetagRun { id } }", json!({}))
        .await;
    assert_eq!(error_code(&body), Some("FORBIDDEN"), "{body}");

    let body = app
        .gql(
            Some(&admin),
            "mutation { startRetagRun { id state total } }",
            json!({}),
        )
        .await;
    let run = body["data"]["startRetagRun"]["id"]
        .as_str()
        .unwrap_or_else(|| panic!("{body}"))
        .to_owned();
    assert_eq!(body["data"]["startRetagRun"]["total"], 3);
    let mut done = Value::Null;
    for _ in 0..200 {
        let body = app
            .gql(
                Some(&admin),
                "query($id: ID!) { retagRun(id: $id) { state processed changed total finishedAt } }",
                json!({ "id": run }),
            )
            .await;
        if body["data"]["retagRun"]["state"] == "DONE" {
            done = body["data"]["retagRun"].clone();
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(done["processed"], 3, "{done}");
    assert_eq!(done["changed"], 3, "{done}");
    let first = app.gql(Some(&admin), TAGS, json!({ "id": ids[0] })).await;
    assert_eq!(tags_of(&first), json!(["hand", "low-res", "ss27"]));
    for id in &ids[1..] {
        let body = app.gql(Some(&admin), TAGS, json!({ "id": id })).await;
        assert_eq!(
            tags_of(&body),
            json!(["hand", "landscape", "low-res", "ss27"])
        );
        assert_eq!(
            source_of(&body["data"]["asset"], "ss27").as_deref(),
            Some("AUTO_RULE")
        );
        assert_eq!(
            source_of(&body["data"]["asset"], "hand").as_deref(),
            Some("MANUAL")
        );
    }
    // Search follows the new tags.
    let r = search(&app, &admin, "ss27", json!({})).await;
    assert_eq!(r["totalCount"], 3);
    let r = search(&app, &admin, "ss26", json!({})).await;
    assert_eq!(r["totalCount"], 0);
}

/// The automatic tags of an uploaded file once processed.
async fn auto_tags_of(app: &TestApp, admin: &str, name: &str, bytes: Vec<u8>) -> Value {
    let id = app
        .upload_asset(
            admin,
            &UploadFile::new(name, "image/jpeg", bytes),
            json!({}),
        )
        .await["id"]
        .as_str()
        .unwrap()
        .to_owned();
    assert!(app.wait_until_processed(Duration::from_secs(120)).await);
    app.gql(Some(admin), TAGS, json!({ "id": id })).await["data"]["asset"].clone()
}

fn with_source(asset: &Value, source: &str) -> Vec<String> {
    asset["tagDetails"]
        .as_array()
        .unwrap_or_else(|| panic!("{asset}"))
        .iter()
        .filter(|t| t["source"] == source)
        .map(|t| t["name"].as_str().unwrap().to_owned())
        .collect()
}

/// Real photographs with what anyone sees in them: their shape as shown
/// (after the EXIF orientation) and a colour that covers much of them. The
/// committed rotated fixtures always; a selection of the shared corpus
/// (`../shared/corpus`, looked at by eye) where it is present.
#[tokio::test]
async fn automatic_tags_match_what_the_photographs_show() {
    let app = spawn_app().await;
    let admin = app.admin_token().await;
    let _worker = app.start_worker_if_needed().await;
    // A 1920×1280 Canon frame stored sideways (orientation 6): portrait as
    // shown; 2572×1740 turned upside down (3): still landscape.
    let storm = auto_tags_of(&app, &admin, "storm.jpg", fixture("storm-orient6-gps.jpg")).await;
    let exif = with_source(&storm, "AUTO_EXIF");
    assert!(exif.contains(&"portrait".to_owned()), "{storm}");
    assert!(exif.contains(&"canon".to_owned()), "{storm}");
    let picture = auto_tags_of(
        &app,
        &admin,
        "picture.jpg",
        fixture("picture0b-orient3-gps.jpg"),
    )
    .await;
    assert!(
        with_source(&picture, "AUTO_EXIF").contains(&"landscape".to_owned()),
        "{picture}"
    );

    let corpus = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shared/corpus");
    if !corpus.is_dir() {
        eprintln!("{} absent: the corpus half is skipped", corpus.display());
        app.finish().await;
        return;
    }
    // (file, shape, colours of which it must have one; greys only)
    let known: [(&str, &str, &[&str], bool); 6] = [
        ("mate_YellowFlower.jpg", "landscape", &["yellow"], false),
        ("mate_LadyBird.jpg", "landscape", &["green"], false),
        ("mate_Garden.jpg", "landscape", &["green"], false),
        // A sand floor and a bean bag.
        (
            "lomiri16_Wine_by_Jakkub_Mede.jpg",
            "portrait",
            &["beige", "brown", "orange"],
            false,
        ),
        // Two spaniels at a grey-white wooden house.
        (
            "lomiri16_friends_by_Aitzol_Berasategi.jpg",
            "portrait",
            &["gray", "white", "beige"],
            false,
        ),
        // A greyscale JPEG: no hue at all.
        ("plasma_Grey_2560x1600.jpg", "landscape", &[], true),
    ];
    for (file, shape, one_of, greys_only) in known {
        let bytes = std::fs::read(corpus.join(file)).unwrap();
        let asset = auto_tags_of(&app, &admin, file, bytes).await;
        assert!(
            with_source(&asset, "AUTO_EXIF").contains(&shape.to_owned()),
            "{file}: {asset}"
        );
        let colours = with_source(&asset, "AUTO_COLOR");
        assert!(!colours.is_empty(), "{file}: {asset}");
        assert!(
            one_of.is_empty() || one_of.iter().any(|c| colours.iter().any(|x| x == c)),
            "{file}: {colours:?}"
        );
        if greys_only {
            assert!(
                colours
                    .iter()
                    .all(|c| ["black", "white", "gray"].contains(&c.as_str())),
                "{file}: {colours:?}"
            );
        }
    }
    app.finish().await;
}

/// The license-state facet counts each state as the `licenseState` filter
/// finds it: an asset with an ended and a current license is ACTIVE.
#[tokio::test]
async fn the_license_state_facet_agrees_with_the_license_state_filter() {
    let app = spawn_app().await;
    let admin = app.admin_token().await;
    let file = UploadFile::new("ring.png", "image/png", fixture("coffee.png"));
    let mut ids = Vec::new();
    for i in 0..6 {
        let a = app
            .upload_asset(&admin, &file, json!({ "title": format!("Gold ring {i}") }))
            .await;
        ids.push(a["id"].as_str().unwrap().to_owned());
    }
    let now = app.clock.now();
    let hours = chrono::Duration::hours;
    // (starts, ends, assets)
    let licenses = [
        (now - hours(24), now + hours(24 * 365), vec![0, 5]),
        (now - hours(24), now + hours(72), vec![1]),
        (now + hours(240), now + hours(24 * 365), vec![2]),
        (now - hours(24), now + hours(1), vec![3, 5]),
    ];
    let mut license_ids = Vec::new();
    for (n, (starts, ends, on)) in licenses.iter().enumerate() {
        let body = app
            .gql(
                Some(&admin),
                "mutation($n: String!, $s: DateTime!, $e: DateTime!) { createLicense(input: { name: $n, licensor: \"Studio\", channels: [ECOMMERCE], territories: [\"WORLD\"], startsAt: $s, endsAt: $e }) { id } }",
                json!({ "n": format!("L{n}"), "s": starts, "e": ends }),
            )
            .await;
        let id = body["data"]["createLicense"]["id"]
            .as_str()
            .unwrap_or_else(|| panic!("{body}"))
            .to_owned();
        license_ids.push(id.clone());
        let assets: Vec<&String> = on.iter().map(|i| &ids[*i]).collect();
        let body = app
            .gql(
                Some(&admin),
                "mutation($l: ID!, $a: [ID!]) { attachLicense(licenseId: $l, assetIds: $a) }",
                json!({ "l": id, "a": assets }),
            )
            .await;
        assert!(body["errors"].is_null(), "{body}");
    }
    // The fourth license has ended two hours later.
    app.clock.advance(hours(2));
    let all = search(&app, &admin, "gold", json!({})).await;
    let states = facet(&all, "licenseStates");
    let want: BTreeMap<String, u64> = [
        ("ACTIVE", 2),
        ("EXPIRING", 1),
        ("SCHEDULED", 1),
        ("EXPIRED", 1),
        ("UNLICENSED", 1),
    ]
    .into_iter()
    .map(|(s, n)| (s.to_owned(), n))
    .collect();
    assert_eq!(states, want, "{all}");
    for (state, n) in &want {
        let filtered = search(&app, &admin, "gold", json!({ "licenseState": state })).await;
        assert_eq!(filtered["totalCount"], *n, "{state}: {filtered}");
    }

    // Detached from its only license, the SCHEDULED asset is UNLICENSED at
    // once; the UNLICENSED one, attached, leaves that state.
    let scheduled = license_ids[2].clone();
    let body = app
        .gql(
            Some(&admin),
            "mutation($l: ID!, $a: [ID!]!) { detachLicense(licenseId: $l, assetIds: $a) }",
            json!({ "l": scheduled, "a": [ids[2]] }),
        )
        .await;
    assert_eq!(body["data"]["detachLicense"], 1, "{body}");
    let body = app
        .gql(
            Some(&admin),
            "mutation($l: ID!, $a: [ID!]) { attachLicense(licenseId: $l, assetIds: $a) }",
            json!({ "l": license_ids[0], "a": [ids[4]] }),
        )
        .await;
    assert!(body["errors"].is_null(), "{body}");
    let unlicensed = search(
        &app,
        &admin,
        "gold",
        json!({ "licenseState": "UNLICENSED" }),
    )
    .await;
    let found: Vec<&str> = unlicensed["edges"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["node"]["id"].as_str().unwrap())
        .collect();
    assert_eq!(found, vec![ids[2].as_str()], "{unlicensed}");
    let all = search(&app, &admin, "gold", json!({})).await;
    let states = facet(&all, "licenseStates");
    assert_eq!(states.get("UNLICENSED"), Some(&1), "{all}");
    assert_eq!(states.get("SCHEDULED"), None, "{all}");
    assert_eq!(states.get("ACTIVE"), Some(&3), "{all}");
    app.finish().await;
}

/// What a search filters and counts by is read from copies in the search
/// document, kept by the database: a trash, a move, a new version and a
/// moderation decision show in the very next search, with no reindexing.
#[tokio::test]
async fn search_follows_trash_moves_versions_and_moderation_at_once() {
    let app = spawn_app().await;
    let admin = app.admin_token().await;
    let here = app.create_folder(&admin, None, "Here").await;
    let there = app.create_folder(&admin, None, "There").await;
    let body = app
        .gql(
            Some(&admin),
            "mutation($f: ID!) { setFolderModeration(folderId: $f, required: true) { id } }",
            json!({ "f": there }),
        )
        .await;
    assert!(body["errors"].is_null(), "{body}");
    let ids = load_catalogue(&app, &admin, Some(&here)).await;
    let count = |r: &Value| r["totalCount"].as_u64().unwrap();
    let ids_of = |r: &Value| -> Vec<String> {
        r["edges"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e["node"]["id"].as_str().unwrap().to_owned())
            .collect()
    };
    let all = search(&app, &admin, "gold", json!({})).await;
    let n = count(&all);
    assert_eq!(n, 5, "{all}");
    assert_eq!(facet(&all, "stages"), BTreeMap::from([("RAW".into(), n)]));

    // Trashed: out of the live search, in the folder facet no more; back
    // when restored.
    let body = app
        .gql(
            Some(&admin),
            "mutation($id: ID!) { deleteAsset(id: $id) { id } }",
            json!({ "id": ids[0] }),
        )
        .await;
    assert!(body["errors"].is_null(), "{body}");
    let after = search(&app, &admin, "gold", json!({})).await;
    assert_eq!(count(&after), n - 1);
    assert!(!ids_of(&after).contains(&ids[0]));
    assert_eq!(facet(&after, "folders").get(&here), Some(&(n - 1)));
    let body = app
        .gql(
            Some(&admin),
            "mutation($id: ID!) { restoreAsset(id: $id) { id } }",
            json!({ "id": ids[0] }),
        )
        .await;
    assert!(body["errors"].is_null(), "{body}");
    assert_eq!(count(&search(&app, &admin, "gold", json!({})).await), n);

    // Moved: the folder filter and facet follow.
    let body = app
        .gql(
            Some(&admin),
            "mutation($id: ID!, $f: ID) { updateAsset(id: $id, input: { folderId: $f }) { id } }",
            json!({ "id": ids[1], "f": there }),
        )
        .await;
    assert!(body["errors"].is_null(), "{body}");
    let moved = search(&app, &admin, "gold", json!({ "folderId": there })).await;
    assert_eq!(ids_of(&moved), vec![ids[1].clone()], "{moved}");
    let all = search(&app, &admin, "gold", json!({})).await;
    assert_eq!(facet(&all, "folders").get(&there), Some(&1));
    assert_eq!(facet(&all, "folders").get(&here), Some(&(n - 1)));

    // A new current version: its stage and its moderation state (the new
    // folder requires moderation) replace the old ones.
    let file = UploadFile::new("product.png", "image/png", fixture("coffee.png"));
    let body = app
        .upload_gql(
            Some(&admin),
            "mutation($a: ID!, $file: Upload!) { uploadVersion(assetId: $a, file: $file, input: { stage: RETOUCHED }) { id moderation { state } } }",
            json!({ "a": ids[1] }),
            &file,
        )
        .await;
    assert!(body["errors"].is_null(), "{body}");
    let version = body["data"]["uploadVersion"]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_eq!(
        body["data"]["uploadVersion"]["moderation"]["state"],
        "PENDING"
    );
    let raw = search(&app, &admin, "gold", json!({ "stage": "RAW" })).await;
    assert_eq!(count(&raw), n - 1);
    assert!(!ids_of(&raw).contains(&ids[1]));
    let retouched = search(&app, &admin, "gold", json!({ "stage": "RETOUCHED" })).await;
    assert_eq!(ids_of(&retouched), vec![ids[1].clone()]);
    let all = search(&app, &admin, "gold", json!({})).await;
    assert_eq!(
        facet(&all, "stages"),
        BTreeMap::from([("RAW".into(), n - 1), ("RETOUCHED".into(), 1)])
    );
    assert_eq!(facet(&all, "moderationStates").get("PENDING"), Some(&1));
    let pending = search(
        &app,
        &admin,
        "gold",
        json!({ "moderationStates": ["PENDING"] }),
    )
    .await;
    assert_eq!(ids_of(&pending), vec![ids[1].clone()]);

    // The moderator's decision on that version shows at once too.
    let body = app
        .gql(
            Some(&admin),
            "mutation($v: [ID!]!) { moderate(versionIds: $v, decision: APPROVED, reason: \"ok\") { id } }",
            json!({ "v": [version] }),
        )
        .await;
    assert!(body["errors"].is_null(), "{body}");
    let all = search(&app, &admin, "gold", json!({})).await;
    assert_eq!(facet(&all, "moderationStates").get("PENDING"), None);
    assert_eq!(facet(&all, "moderationStates").get("APPROVED"), Some(&1));
    let approved = search(
        &app,
        &admin,
        "gold",
        json!({ "moderationStates": ["APPROVED"] }),
    )
    .await;
    assert_eq!(ids_of(&approved), vec![ids[1].clone()]);

    // Retagged: the tag facet counts the new tags and forgets the old ones
    // (on PostgreSQL it reads the document's array copy).
    let retag = |tags: Value| {
        app.gql(
            Some(&admin),
            "mutation($id: ID!, $t: [String!]) { updateAsset(id: $id, input: { tags: $t }) { id } }",
            json!({ "id": ids[2], "t": tags }),
        )
    };
    let body = retag(json!(["launch-ss27"])).await;
    assert!(body["errors"].is_null(), "{body}");
    let all = search(&app, &admin, "gold", json!({})).await;
    assert_eq!(facet(&all, "tags").get("launch-ss27"), Some(&1), "{all}");
    let body = retag(json!([])).await;
    assert!(body["errors"].is_null(), "{body}");
    let all = search(&app, &admin, "gold", json!({})).await;
    assert_eq!(facet(&all, "tags").get("launch-ss27"), None, "{all}");
}
