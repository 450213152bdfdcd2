//! HTTP calls of the tests on a [`TestServer`]: JSON requests with an optional bearer token
//! answered as (status, JSON body or null) within [`TIMEOUT`], and the set-up most tests need
//! (a registered user's token, a channel, a channel's whole history).

use serde_json::{json, Value};

use crate::{TestServer, PASSWORD, TIMEOUT};

impl TestServer {
    pub async fn get(&self, path: &str, token: Option<&str>) -> (u16, Value) {
        call(self.http.get(format!("{}{path}", self.url())), token).await
    }

    pub async fn post(&self, path: &str, token: Option<&str>, body: Value) -> (u16, Value) {
        let req = self.http.post(format!("{}{path}", self.url())).json(&body);
        call(req, token).await
    }

    pub async fn patch(&self, path: &str, token: Option<&str>, body: Value) -> (u16, Value) {
        let req = self.http.patch(format!("{}{path}", self.url())).json(&body);
        call(req, token).await
    }

    pub async fn put(&self, path: &str, token: Option<&str>, body: Value) -> (u16, Value) {
        let req = self.http.put(format!("{}{path}", self.url())).json(&body);
        call(req, token).await
    }

    pub async fn delete(&self, path: &str, token: Option<&str>) -> (u16, Value) {
        call(self.http.delete(format!("{}{path}", self.url())), token).await
    }

    /// Registers a user with [`PASSWORD`] and returns their token.
    pub async fn register(&self, name: &str) -> String {
        self.register_with_password(name, PASSWORD).await
    }

    /// Registers a user and returns their token.
    pub async fn register_with_password(&self, name: &str, password: &str) -> String {
        let (status, body) = self
            .post(
                "/api/register",
                None,
                json!({"name": name, "password": password}),
            )
            .await;
        assert_eq!(status, 201, "register {name}: {body}");
        body["token"].as_str().unwrap().to_owned()
    }

    /// Signs `name` in with `password`: its token.
    pub async fn login(&self, name: &str, password: &str) -> String {
        let (status, body) = self
            .post(
                "/api/login",
                None,
                json!({"name": name, "password": password}),
            )
            .await;
        assert_eq!(status, 200, "login {name}: {body}");
        body["token"].as_str().unwrap().to_owned()
    }

    /// Signs in the workspace admin `root` of [`ServerBuilder::with_root_admin`]: its token.
    ///
    /// [`ServerBuilder::with_root_admin`]: crate::ServerBuilder::with_root_admin
    pub async fn root(&self) -> String {
        self.login("root", PASSWORD).await
    }

    /// Creates a channel as `token`'s user.
    pub async fn create_channel(&self, token: &str, name: &str) {
        let (status, body) = self
            .post("/api/channels", Some(token), json!({"channel": name}))
            .await;
        assert_eq!(status, 201, "{body}");
    }

    /// Posts a message over HTTP as `token`'s user (a fresh `client_id`).
    pub async fn post_message(&self, token: &str, channel: &str, text: &str) {
        let (status, body) = self
            .post(
                &format!("/api/channels/{channel}/messages"),
                Some(token),
                json!({ "text": text, "client_id": crate::unique("c") }),
            )
            .await;
        assert_eq!(status, 201, "post to {channel}: {body}");
    }

    /// Every message of a channel, oldest first (all pages).
    pub async fn history(&self, token: &str, channel: &str) -> Vec<Value> {
        let mut all = Vec::new();
        let mut before: Option<u64> = None;
        loop {
            let path = match before {
                Some(b) => format!("/api/channels/{channel}/messages?limit=500&before={b}"),
                None => format!("/api/channels/{channel}/messages?limit=500"),
            };
            let (status, page) = self.get(&path, Some(token)).await;
            assert_eq!(status, 200, "{page}");
            let messages = page["messages"].as_array().unwrap().clone();
            before = messages.last().and_then(|m| m["seq"].as_u64());
            all.extend(messages);
            if page["has_more"] != true {
                break;
            }
        }
        all.reverse();
        all
    }

    /// The texts of a channel's messages, oldest first.
    pub async fn history_texts(&self, token: &str, channel: &str) -> Vec<String> {
        self.history(token, channel)
            .await
            .iter()
            .map(|m| m["text"].as_str().unwrap().to_owned())
            .collect()
    }
}

/// Sends a request (with a bearer token if given): its status and JSON body (or null).
async fn call(mut req: reqwest::RequestBuilder, token: Option<&str>) -> (u16, Value) {
    if let Some(token) = token {
        req = req.bearer_auth(token);
    }
    let resp = tokio::time::timeout(TIMEOUT, req.send())
        .await
        .expect("no HTTP answer in time")
        .unwrap();
    let status = resp.status().as_u16();
    let text = resp.text().await.unwrap();
    (status, serde_json::from_str(&text).unwrap_or(Value::Null))
}
