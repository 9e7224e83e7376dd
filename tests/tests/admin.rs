//! User and partner-organisation administration, and who may do it.

use serde_json::{Value, json};
use vitrine_tests::vitrine_entity::Role;
use vitrine_tests::{PASSWORD, error_code, spawn_app};

const CREATE_USER: &str = "mutation($input: CreateUserInput!) { createUser(input: $input) { id email displayName kind role disabled partnerOrg { name } } }";

fn member(email: &str, role: &str) -> Value {
    json!({ "input": { "email": email, "displayName": "New Person", "password": PASSWORD, "role": role } })
}

#[tokio::test]
async fn only_admins_administer_users() {
    let app = spawn_app().await;
    let admin = app.admin_token().await;
    for role in [Role::Manager, Role::Editor, Role::Contributor, Role::Viewer] {
        let email = format!("{}@example.com", role.as_str().to_lowercase());
        app.create_member(&email, role).await;
        let token = app.login(&email, PASSWORD).await;
        let body = app
            .gql(Some(&token), CREATE_USER, member("x@example.com", "ADMIN"))
            .await;
        assert_eq!(error_code(&body), Some("FORBIDDEN"), "{role:?}: {body}");
        let body = app
            .gql(
                Some(&token),
                "{ users { edges { node { id } } } }",
                Value::Null,
            )
            .await;
        assert_eq!(error_code(&body), Some("FORBIDDEN"), "{role:?}");
        let body = app
            .gql(
                Some(&token),
                "{ auditEvents { edges { node { seq } } } }",
                Value::Null,
            )
            .await;
        assert_eq!(error_code(&body), Some("FORBIDDEN"), "{role:?}");
    }
    let body = app
        .gql(None, CREATE_USER, member("x@example.com", "ADMIN"))
        .await;
    assert_eq!(error_code(&body), Some("UNAUTHENTICATED"));

    let body = app
        .gql(
            Some(&admin),
            CREATE_USER,
            member("New.Person@Example.com", "VIEWER"),
        )
        .await;
    let user = &body["data"]["createUser"];
    assert_eq!(user["email"], "new.person@example.com", "{body}");
    assert_eq!(user["role"], "VIEWER");
    assert_eq!(user["kind"], "MEMBER");
    assert_eq!(user["disabled"], false);
    app.login("new.person@example.com", PASSWORD).await;
    app.finish().await;
}

#[tokio::test]
async fn bad_input_and_duplicates_are_refused_and_change_nothing() {
    let app = spawn_app().await;
    let admin = app.admin_token().await;
    app.gql(
        Some(&admin),
        CREATE_USER,
        member("ada@example.com", "EDITOR"),
    )
    .await;
    let body = app
        .gql(
            Some(&admin),
            CREATE_USER,
            member("ADA@example.com", "VIEWER"),
        )
        .await;
    assert_eq!(error_code(&body), Some("CONFLICT"), "{body}");

    let mut short = member("bob@example.com", "VIEWER");
    short["input"]["password"] = json!("short");
    let body = app.gql(Some(&admin), CREATE_USER, short).await;
    assert_eq!(error_code(&body), Some("BAD_USER_INPUT"));
    let body = app
        .gql(Some(&admin), CREATE_USER, member("not-an-email", "VIEWER"))
        .await;
    assert_eq!(error_code(&body), Some("BAD_USER_INPUT"));
    let mut no_role = member("carol@example.com", "VIEWER");
    no_role["input"].as_object_mut().unwrap().remove("role");
    let body = app.gql(Some(&admin), CREATE_USER, no_role).await;
    assert_eq!(error_code(&body), Some("BAD_USER_INPUT"));

    let users = app
        .gql(
            Some(&admin),
            "{ users { edges { node { email } } } }",
            Value::Null,
        )
        .await;
    let emails: Vec<&str> = users["data"]["users"]["edges"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["node"]["email"].as_str().unwrap())
        .collect();
    assert_eq!(emails, ["admin@vitrine.test", "ada@example.com"]);
    app.finish().await;
}

#[tokio::test]
async fn update_user_changes_role_and_password_and_ends_sessions_on_password_change() {
    let app = spawn_app().await;
    let admin = app.admin_token().await;
    let id = app.create_member("ada@example.com", Role::Viewer).await;
    let token = app.login("ada@example.com", PASSWORD).await;
    let body = app
        .gql(
            Some(&admin),
            "mutation($id: ID!, $i: UpdateUserInput!) { updateUser(id: $id, input: $i) { role displayName } }",
            json!({ "id": id, "i": { "role": "EDITOR", "displayName": "Ada L." } }),
        )
        .await;
    assert_eq!(body["data"]["updateUser"]["role"], "EDITOR", "{body}");
    // A role change takes effect on the next request of an existing session.
    let me = app.gql(Some(&token), "{ me { role } }", Value::Null).await;
    assert_eq!(me["data"]["me"]["role"], "EDITOR");

    app.gql(
        Some(&admin),
        "mutation($id: ID!, $i: UpdateUserInput!) { updateUser(id: $id, input: $i) { id } }",
        json!({ "id": id, "i": { "password": "a brand new passphrase" } }),
    )
    .await;
    let me = app.gql(Some(&token), "{ me { role } }", Value::Null).await;
    assert_eq!(error_code(&me), Some("UNAUTHENTICATED"));
    app.login("ada@example.com", "a brand new passphrase").await;
    app.finish().await;
}

#[tokio::test]
async fn the_last_admin_cannot_be_disabled_or_demoted() {
    let app = spawn_app().await;
    let admin = app.admin_token().await;
    let me = app.gql(Some(&admin), "{ me { id } }", Value::Null).await;
    let id = me["data"]["me"]["id"].as_str().unwrap().to_owned();
    let body = app
        .gql(
            Some(&admin),
            "mutation($id: ID!) { disableUser(id: $id) { id } }",
            json!({ "id": id }),
        )
        .await;
    assert_eq!(error_code(&body), Some("CONFLICT"));
    let body = app
        .gql(
            Some(&admin),
            "mutation($id: ID!) { updateUser(id: $id, input: { role: VIEWER }) { id } }",
            json!({ "id": id }),
        )
        .await;
    assert_eq!(error_code(&body), Some("CONFLICT"));
    app.create_member("second@example.com", Role::Admin).await;
    let body = app
        .gql(
            Some(&admin),
            "mutation($id: ID!) { updateUser(id: $id, input: { role: VIEWER }) { role } }",
            json!({ "id": id }),
        )
        .await;
    assert_eq!(body["data"]["updateUser"]["role"], "VIEWER", "{body}");
    app.finish().await;
}

#[tokio::test]
async fn partners_belong_to_allowlisted_orgs_and_are_cut_off_when_removed() {
    let app = spawn_app().await;
    let admin = app.admin_token().await;
    let body = app
        .gql(
            Some(&admin),
            "mutation { createPartnerOrg(input: { name: \"Maison Dist\", emailDomains: [\"Dist.Example\"], allowlisted: true }) { id name allowlisted emailDomains } }",
            Value::Null,
        )
        .await;
    let org = &body["data"]["createPartnerOrg"];
    assert_eq!(org["emailDomains"], json!(["dist.example"]), "{body}");
    assert_eq!(org["allowlisted"], true);
    let org_id = org["id"].as_str().unwrap().to_owned();

    let partner = |email: &str| json!({ "input": { "email": email, "displayName": "Partner", "password": PASSWORD, "kind": "PARTNER", "partnerOrgId": org_id } });
    let body = app
        .gql(Some(&admin), CREATE_USER, partner("eve@elsewhere.example"))
        .await;
    assert_eq!(error_code(&body), Some("BAD_USER_INPUT"), "{body}");
    let body = app
        .gql(Some(&admin), CREATE_USER, partner("paul@dist.example"))
        .await;
    assert_eq!(body["data"]["createUser"]["kind"], "PARTNER", "{body}");
    assert_eq!(body["data"]["createUser"]["role"], Value::Null);
    assert_eq!(
        body["data"]["createUser"]["partnerOrg"]["name"],
        "Maison Dist"
    );

    let token = app.login("paul@dist.example", PASSWORD).await;
    let me = app
        .gql(
            Some(&token),
            "{ me { kind partnerOrg { name } } }",
            Value::Null,
        )
        .await;
    assert_eq!(me["data"]["me"]["partnerOrg"]["name"], "Maison Dist");
    // Partners administer nothing.
    let body = app
        .gql(Some(&token), "{ partnerOrgs { id } }", Value::Null)
        .await;
    assert_eq!(error_code(&body), Some("FORBIDDEN"));

    let body = app
        .gql(
            Some(&admin),
            "mutation($id: ID!) { setPartnerAllowlisted(id: $id, allowlisted: false) { allowlisted } }",
            json!({ "id": org_id }),
        )
        .await;
    assert_eq!(body["data"]["setPartnerAllowlisted"]["allowlisted"], false);
    let me = app.gql(Some(&token), "{ me { kind } }", Value::Null).await;
    assert_eq!(error_code(&me), Some("UNAUTHENTICATED"));
    let body = app
        .gql(
            None,
            "mutation { login(email: \"paul@dist.example\", password: \"correct horse battery staple\") { token } }",
            Value::Null,
        )
        .await;
    // The right password proved who they are: told why, and nothing more.
    assert_eq!(error_code(&body), Some("FORBIDDEN"), "{body}");
    assert_eq!(
        body["errors"][0]["message"],
        "your partner organisation is not active"
    );
    assert!(body["data"].is_null());
    // A wrong password learns nothing about the organisation.
    let body = app
        .gql(
            None,
            "mutation { login(email: \"paul@dist.example\", password: \"not the password\") { token } }",
            Value::Null,
        )
        .await;
    assert_eq!(error_code(&body), Some("UNAUTHENTICATED"));
    assert_eq!(body["errors"][0]["message"], "invalid email or password");
    app.finish().await;
}

#[tokio::test]
async fn users_page_through_a_cursor_connection() {
    let app = spawn_app().await;
    let admin = app.admin_token().await;
    for i in 0..5 {
        app.create_member(&format!("user{i}@example.com"), Role::Viewer)
            .await;
    }
    let page = |after: Option<String>| {
        let app = &app;
        let admin = admin.clone();
        async move {
            app.gql(
                Some(&admin),
                "query($after: String) { users(first: 4, after: $after, filter: { role: VIEWER }) { edges { cursor node { email } } pageInfo { hasNextPage endCursor } } }",
                json!({ "after": after }),
            )
            .await
        }
    };
    let first = page(None).await;
    let users = &first["data"]["users"];
    assert_eq!(users["edges"].as_array().unwrap().len(), 4, "{first}");
    assert_eq!(users["pageInfo"]["hasNextPage"], true);
    let second = page(users["pageInfo"]["endCursor"].as_str().map(str::to_owned)).await;
    let rest = second["data"]["users"]["edges"].as_array().unwrap();
    assert_eq!(rest.len(), 1);
    assert_eq!(rest[0]["node"]["email"], "user4@example.com");
    assert_eq!(second["data"]["users"]["pageInfo"]["hasNextPage"], false);
    app.finish().await;
}
