//! The content answer of `GET /api/docs/{name}/content` and of a named version: the whole state
//! as one update, and the text of the document's root types.
//!
//! This is CPU work proportional to the document (up to `max_document_size`), so callers run it
//! on a blocking thread behind the content gate, never on an async worker. It decodes the state
//! once (twice when some root is rich text), not once per root: a document of 100,000 roots made
//! the per-root decoding take minutes. At most `documents.max_content_roots` roots are rendered,
//! by name order; the answer says `truncated` when there were more.

use axum::{
    http::header,
    response::{IntoResponse, Response},
};
use base64::Engine;
use parley_protocol::VersionInfo;
use yrs::{updates::decoder::Decode, GetString, ReadTxn, Transact, WriteTxn};

use crate::error::{Error, Result};

/// A content answer, serialised already (on the blocking thread that built it).
pub struct ContentJson(pub Vec<u8>);

impl IntoResponse for ContentJson {
    fn into_response(self) -> Response {
        ([(header::CONTENT_TYPE, "application/json")], self.0).into_response()
    }
}

/// `{doc, version?, update (base64 of the full state), text: {root: string}, truncated}`.
/// Roots are typed by their content: text roots give their text, XML fragments (rich-text
/// editors) their XML.
pub fn render(
    doc: &str,
    version: Option<&VersionInfo>,
    state: &[u8],
    max_roots: usize,
) -> Result<ContentJson> {
    let loaded = load(state)?;
    let mut names: Vec<String> = loaded
        .transact()
        .root_refs()
        .map(|(name, _)| name.to_owned())
        .collect();
    names.sort_unstable();
    let truncated = names.len() > max_roots;
    names.truncate(max_roots);
    // A root's type is not in the update (Yjs clients type roots when they use them), so each
    // root is read as text first; those that read empty are read as XML from a second copy
    // (typing a root is permanent within one document).
    let mut texts: Vec<(String, String)> = {
        let mut txn = loaded.transact_mut();
        names
            .into_iter()
            .map(|name| {
                let root = txn.get_or_insert_text(name.as_str());
                let text = root.get_string(&txn);
                (name, text)
            })
            .collect()
    };
    drop(loaded);
    if texts.iter().any(|(_, text)| text.is_empty()) {
        let as_xml = load(state)?;
        let mut txn = as_xml.transact_mut();
        for (name, text) in texts.iter_mut().filter(|(_, text)| text.is_empty()) {
            let root = txn.get_or_insert_xml_fragment(name.as_str());
            *text = root.get_string(&txn);
        }
    }
    let text: serde_json::Map<String, serde_json::Value> = texts
        .into_iter()
        .map(|(name, text)| (name, serde_json::Value::String(text)))
        .collect();
    let engine = base64::engine::general_purpose::STANDARD;
    let body = serde_json::json!({
        "doc": doc,
        "version": version,
        "update": engine.encode(state),
        "text": text,
        "truncated": truncated,
    });
    serde_json::to_vec(&body)
        .map(ContentJson)
        .map_err(Error::internal)
}

fn load(state: &[u8]) -> Result<yrs::Doc> {
    let doc = yrs::Doc::new();
    let update = yrs::Update::decode_v1(state).map_err(Error::internal)?;
    doc.transact_mut()
        .apply_update(update)
        .map_err(Error::internal)?;
    Ok(doc)
}

#[cfg(test)]
mod tests {
    use yrs::{Text, XmlElementPrelim, XmlFragment};

    use super::*;

    fn parse(content: ContentJson) -> serde_json::Value {
        serde_json::from_slice(&content.0).expect("json")
    }

    #[test]
    fn text_and_rich_text_roots() {
        let doc = yrs::Doc::new();
        let text = doc.get_or_insert_text("content");
        let rich = doc.get_or_insert_xml_fragment("prosemirror");
        {
            let mut txn = doc.transact_mut();
            text.insert(&mut txn, 0, "hello");
            rich.insert(&mut txn, 0, XmlElementPrelim::empty("paragraph"));
        }
        let state = doc
            .transact()
            .encode_state_as_update_v1(&yrs::StateVector::default());
        let body = parse(render("d", None, &state, 10).expect("renders"));
        assert_eq!(body["text"]["content"], "hello");
        assert_eq!(body["text"]["prosemirror"], "<paragraph></paragraph>");
        assert_eq!(body["truncated"], false);
        let body = parse(render("d", None, &state, 1).expect("renders"));
        assert_eq!(body["text"].as_object().map(|t| t.len()), Some(1));
        assert_eq!(body["text"]["content"], "hello", "by name order");
        assert_eq!(body["truncated"], true);
    }
}
