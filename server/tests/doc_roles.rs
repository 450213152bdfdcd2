//! `GET /api/docs/{name}/roles`: who has a role of their own on a document, for the people who
//! may share it (its creator, channel admins, workspace admins) and nobody else.
#![allow(clippy::unwrap_used)]

use parley_testkit::*;
use serde_json::json;

#[tokio::test]
async fn managers_list_the_people_a_document_is_shared_with() {
    let server = TestServer::start(RELAXED).await;
    let owner = server.register("owner").await;
    let bob = server.register("bob").await;
    server.register("carol").await;
    let (status, doc) = server
        .post("/api/docs", Some(&owner), json!({"name": "plan"}))
        .await;
    assert_eq!(status, 201, "{doc}");
    let (_, empty) = server.get("/api/docs/plan/roles", Some(&owner)).await;
    assert_eq!(empty, json!({"roles": []}));
    for (user, role) in [("carol", "viewer"), ("bob", "editor")] {
        let (status, body) = server
            .put(
                &format!("/api/docs/plan/roles/{user}"),
                Some(&owner),
                json!({"role": role}),
            )
            .await;
        assert_eq!(status, 204, "{body}");
    }
    let (status, list) = server.get("/api/docs/plan/roles", Some(&owner)).await;
    assert_eq!(status, 200, "{list}");
    let roles: Vec<(String, String)> = list["roles"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            (
                r["user"]["name"].as_str().unwrap().to_owned(),
                r["role"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    assert_eq!(
        roles,
        [
            ("bob".to_owned(), "editor".to_owned()),
            ("carol".to_owned(), "viewer".to_owned())
        ],
        "by name"
    );

    // An editor who is not a manager may not see or change the list.
    let (status, body) = server.get("/api/docs/plan/roles", Some(&bob)).await;
    assert_eq!(status, 403, "{body}");
    assert_eq!(body["code"], "forbidden", "{body}");
    let (status, _) = server.get("/api/docs/plan/roles", None).await;
    assert_eq!(status, 401);
    let (status, body) = server.get("/api/docs/nope/roles", Some(&owner)).await;
    assert_eq!(status, 404, "{body}");

    // A role taken away leaves the list.
    let (status, _) = server
        .delete("/api/docs/plan/roles/carol", Some(&owner))
        .await;
    assert_eq!(status, 204);
    let (_, list) = server.get("/api/docs/plan/roles", Some(&owner)).await;
    assert_eq!(list["roles"].as_array().unwrap().len(), 1, "{list}");
}
