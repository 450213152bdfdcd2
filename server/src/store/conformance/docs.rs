//! Documents, their update log, versions and comments.

use parley_protocol::{CommentAnchor, DocRole, ErrorCode, Event};

use super::{code, Harness};
use crate::store::{
    ChannelRecord, CommentPost, CommentsOf, DocRecord, NewDocument, NewVersion, UserRecord,
};

fn new_doc(name: &str, by: &UserRecord, channel_id: Option<i64>) -> NewDocument {
    NewDocument {
        name: name.to_owned(),
        title: Some(format!("{name} title")),
        channel_id,
        default_role: DocRole::Commenter,
        created_by: by.id,
        limit: None,
    }
}

pub(super) async fn doc(h: &Harness, name: &str, by: &UserRecord) -> (DocRecord, ChannelRecord) {
    h.stores
        .documents
        .create_document(new_doc(name, by, None))
        .await
        .unwrap()
}

fn comments_of(doc: &DocRecord, channel: &ChannelRecord) -> CommentsOf {
    CommentsOf {
        doc_id: doc.id,
        doc_name: doc.name.clone(),
        channel_id: channel.id,
        channel_name: channel.name.clone(),
    }
}

fn comment(by: &UserRecord, body: &str, parent: Option<i64>) -> CommentPost {
    CommentPost {
        parent,
        author_id: by.id,
        anchor: parent.is_none().then(|| CommentAnchor {
            start: "AQID".into(),
            end: "BAUG".into(),
        }),
        quote: parent.is_none().then(|| "the quote".to_owned()),
        body: body.to_owned(),
        mention_names: Vec::new(),
        client_id: None,
    }
}

pub async fn a_document_comes_with_its_comments_channel(h: &Harness) {
    let alice = h.user("alice").await;
    let team = h.channel("team", &alice).await;
    let documents = &h.stores.documents;
    let (record, channel) = documents
        .create_document(new_doc("plan", &alice, Some(team.id)))
        .await
        .unwrap();
    assert_eq!(record.name, "plan");
    assert_eq!(record.title.as_deref(), Some("plan title"));
    assert_eq!(record.channel_id, Some(team.id));
    assert_eq!(record.default_role, DocRole::Commenter);
    assert_eq!(record.created_by, Some(alice.id));
    assert_eq!(record.creator, Some(alice.to_ref()));
    assert_eq!(channel.name, format!("doc#{}", record.id));
    assert_eq!(
        (channel.doc_id, channel.parent_id),
        (Some(record.id), Some(team.id))
    );
    assert_eq!(channel.head_seq, 0);
    assert_eq!(
        code(
            documents
                .create_document(new_doc("plan", &alice, None))
                .await
        ),
        ErrorCode::DocExists
    );
    let limited = NewDocument {
        limit: Some(1),
        ..new_doc("other", &alice, None)
    };
    assert_eq!(
        code(documents.create_document(limited.clone()).await),
        ErrorCode::LimitReached
    );
    let bob = h.user("bob").await;
    let bobs = NewDocument {
        created_by: bob.id,
        ..limited
    };
    documents.create_document(bobs).await.unwrap();
    let all = documents.load_documents().await.unwrap();
    let names: Vec<&str> = all.iter().map(|(d, _)| d.name.as_str()).collect();
    assert_eq!(names, ["plan", "other"]);
    let directory = h.stores.channels.load_directory().await.unwrap();
    assert!(directory.channels.iter().any(|c| c.id == channel.id));
}

pub async fn documents_are_renamed_but_names_stay_unique(h: &Harness) {
    let alice = h.user("alice").await;
    let (mut plan, _) = doc(h, "plan", &alice).await;
    doc(h, "notes", &alice).await;
    let documents = &h.stores.documents;
    plan.name = "notes".into();
    assert_eq!(
        code(documents.update_document(plan.clone()).await),
        ErrorCode::DocExists
    );
    plan.name = "roadmap".into();
    plan.title = None;
    plan.default_role = DocRole::Viewer;
    documents.update_document(plan.clone()).await.unwrap();
    let all = documents.load_documents().await.unwrap();
    let stored = &all.iter().find(|(d, _)| d.id == plan.id).unwrap().0;
    assert_eq!(stored.name, "roadmap");
    assert_eq!(stored.title, None);
    assert_eq!(stored.default_role, DocRole::Viewer);
    let mut again = plan.clone();
    again.title = Some("same name, new title".into());
    documents.update_document(again).await.unwrap();
}

pub async fn roles_are_granted_and_removed(h: &Harness) {
    let alice = h.user("alice").await;
    let bob = h.user("bob").await;
    let (plan, _) = doc(h, "plan", &alice).await;
    let documents = &h.stores.documents;
    let id = documents
        .set_role(plan.id, "BOB".into(), Some(DocRole::Editor))
        .await
        .unwrap();
    assert_eq!(id, bob.id);
    documents
        .set_role(plan.id, "bob".into(), Some(DocRole::Viewer))
        .await
        .unwrap();
    let grants = |all: Vec<(DocRecord, Vec<(i64, DocRole)>)>| all[0].1.clone();
    assert_eq!(
        grants(documents.load_documents().await.unwrap()),
        [(bob.id, DocRole::Viewer)]
    );
    assert_eq!(
        code(documents.set_role(plan.id, "nobody".into(), None).await),
        ErrorCode::UserNotFound
    );
    documents
        .set_role(plan.id, "bob".into(), None)
        .await
        .unwrap();
    assert!(grants(documents.load_documents().await.unwrap()).is_empty());
}

pub async fn versions_respect_their_limits(h: &Harness) {
    let alice = h.user("alice").await;
    let (plan, _) = doc(h, "plan", &alice).await;
    let (notes, _) = doc(h, "notes", &alice).await;
    let version = |doc: &DocRecord, name: &str, size: usize| NewVersion {
        doc_id: doc.id,
        doc_name: doc.name.clone(),
        name: name.to_owned(),
        state: vec![7; size],
        created_by: alice.id,
        max_versions: 2,
        max_bytes: Some(100),
    };
    let documents = &h.stores.documents;
    let v1 = documents
        .save_version(version(&plan, "v1", 40))
        .await
        .unwrap();
    assert_eq!(
        (v1.doc.as_str(), v1.name.as_str(), v1.size),
        ("plan", "v1", 40)
    );
    assert_eq!(v1.created_by, Some(alice.to_ref()));
    let v2 = documents
        .save_version(version(&plan, "v2", 40))
        .await
        .unwrap();
    assert_eq!(
        code(documents.save_version(version(&plan, "v3", 1)).await),
        ErrorCode::LimitReached,
        "max_versions per document"
    );
    assert_eq!(
        code(documents.save_version(version(&notes, "n1", 30)).await),
        ErrorCode::LimitReached,
        "max_bytes per user, over all documents"
    );
    let unlimited = NewVersion {
        max_bytes: None,
        ..version(&notes, "n1", 30)
    };
    documents.save_version(unlimited).await.unwrap();
    let listed = documents
        .versions(plan.id, plan.name.clone())
        .await
        .unwrap();
    assert_eq!(listed, [v1.clone(), v2]);
    let (info, state) = documents
        .version(plan.id, plan.name.clone(), v1.id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(info, v1);
    assert_eq!(state, vec![7; 40]);
    assert!(documents
        .version(notes.id, notes.name.clone(), v1.id)
        .await
        .unwrap()
        .is_none());
}

pub async fn deleting_a_document_takes_its_channel(h: &Harness) {
    let alice = h.user("alice").await;
    let (plan, channel) = doc(h, "plan", &alice).await;
    let documents = &h.stores.documents;
    let claim = documents.claim_document(plan.id).await.unwrap();
    documents
        .append_updates(plan.id, claim, vec![b"a".to_vec()])
        .await
        .unwrap();
    h.stores
        .comments
        .create_comment(comments_of(&plan, &channel), comment(&alice, "hi", None))
        .await
        .unwrap();
    documents.delete_document(plan.id).await.unwrap();
    assert!(documents.load_documents().await.unwrap().is_empty());
    assert_eq!(
        code(h.stores.events.log_position(channel.id).await),
        ErrorCode::ChannelNotFound
    );
    assert!(h
        .stores
        .comments
        .comments(plan.id, plan.name.clone())
        .await
        .unwrap()
        .is_empty());
    let (again, _) = doc(h, "plan", &alice).await;
    assert_ne!(again.id, plan.id);
    assert!(documents
        .load_content(again.id)
        .await
        .unwrap()
        .updates
        .is_empty());
}

pub async fn comments_and_replies(h: &Harness) {
    let alice = h.user("alice").await;
    let bob = h.user("bob").await;
    let (plan, channel) = doc(h, "plan", &alice).await;
    let (notes, notes_channel) = doc(h, "notes", &alice).await;
    let on = comments_of(&plan, &channel);
    let comments = &h.stores.comments;
    h.published();
    let mut first = comment(&alice, "look @bob", None);
    first.mention_names = vec!["BOB".into(), "nobody".into(), "bob".into()];
    first.client_id = Some("c1".into());
    let parent = comments.create_comment(on.clone(), first).await.unwrap();
    assert_eq!(parent.doc, "plan");
    assert_eq!(parent.author, alice.to_ref());
    assert_eq!(parent.mentions, [bob.to_ref()]);
    assert_eq!(parent.quote.as_deref(), Some("the quote"));
    assert!(!parent.resolved);
    let published = h.published();
    assert_eq!(published.len(), 1);
    assert_eq!(published[0].channel_id, channel.id);
    assert_eq!(
        super::event_of(&published[0].frame).1,
        Event::CommentCreated {
            comment: Box::new(parent.clone())
        }
    );
    let reply = comments
        .create_comment(on.clone(), comment(&bob, "seen", Some(parent.id)))
        .await
        .unwrap();
    assert_eq!(reply.parent, Some(parent.id));
    assert_eq!(
        code(
            comments
                .create_comment(on.clone(), comment(&alice, "deeper", Some(reply.id)))
                .await
        ),
        ErrorCode::InvalidComment
    );
    assert_eq!(
        code(
            comments
                .create_comment(on.clone(), comment(&alice, "lost", Some(999)))
                .await
        ),
        ErrorCode::CommentNotFound
    );
    let listed = comments.comments(plan.id, plan.name.clone()).await.unwrap();
    assert_eq!(listed, [parent.clone(), reply.clone()]);
    let row = comments
        .comment_row(plan.id, reply.id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        (row.parent_id, row.author_id, row.doc_id),
        (Some(parent.id), bob.id, plan.id)
    );
    assert!(comments
        .comment_row(notes.id, reply.id)
        .await
        .unwrap()
        .is_none());
    let again = comments
        .comment_by_client_id(on.clone(), alice.id, "c1".into())
        .await
        .unwrap();
    assert_eq!(again, Some(parent));
    assert!(comments
        .comment_by_client_id(on.clone(), bob.id, "c1".into())
        .await
        .unwrap()
        .is_none());
    let elsewhere = comments_of(&notes, &notes_channel);
    assert_eq!(
        code(
            comments
                .comment_by_client_id(elsewhere, alice.id, "c1".into())
                .await
        ),
        ErrorCode::InvalidClientId
    );
}

pub async fn a_comment_edit_takes_the_old_body_out_of_stored_frames(h: &Harness) {
    let alice = h.user("alice").await;
    let (plan, channel) = doc(h, "plan", &alice).await;
    let on = comments_of(&plan, &channel);
    let comments = &h.stores.comments;
    let created = comments
        .create_comment(on.clone(), comment(&alice, "first", None))
        .await
        .unwrap();
    let edited = comments
        .edit_comment(
            on.clone(),
            created.id,
            "second".into(),
            Vec::new(),
            alice.id,
        )
        .await
        .unwrap();
    assert_eq!(edited.body, "second");
    assert!(edited.edited_at.is_some());
    comments
        .edit_comment(
            on.clone(),
            created.id,
            "third".into(),
            vec!["alice".into()],
            alice.id,
        )
        .await
        .unwrap();
    let bodies: Vec<(String, Option<String>)> = h
        .log(channel.id)
        .await
        .into_iter()
        .filter_map(|(_, e)| match e {
            Event::CommentCreated { comment } | Event::CommentEdited { comment } => {
                Some((comment.body, comment.quote))
            }
            _ => None,
        })
        .collect();
    let quote = Some("the quote".to_owned());
    assert_eq!(
        bodies,
        [
            (String::new(), quote.clone()),
            (String::new(), quote.clone()),
            ("third".into(), quote)
        ],
        "only the last frame carries the body"
    );
    let listed = comments.comments(plan.id, plan.name.clone()).await.unwrap();
    assert_eq!(listed[0].body, "third");
    assert_eq!(listed[0].mentions, [alice.to_ref()]);
}

pub async fn a_comment_delete_redacts_the_comment_and_its_replies(h: &Harness) {
    let alice = h.user("alice").await;
    let bob = h.user("bob").await;
    let (plan, channel) = doc(h, "plan", &alice).await;
    let on = comments_of(&plan, &channel);
    let comments = &h.stores.comments;
    let parent = comments
        .create_comment(on.clone(), comment(&alice, "secret", None))
        .await
        .unwrap();
    let reply = comments
        .create_comment(on.clone(), comment(&bob, "also secret", Some(parent.id)))
        .await
        .unwrap();
    let other = comments
        .create_comment(on.clone(), comment(&bob, "kept", None))
        .await
        .unwrap();
    comments
        .resolve_comment(on.clone(), parent.id, Some(bob.id), bob.id)
        .await
        .unwrap();
    h.published();
    comments
        .delete_comment(on.clone(), parent.id, alice.id)
        .await
        .unwrap();
    let published = h.published();
    assert_eq!(
        super::event_of(&published[0].frame).1,
        Event::CommentDeleted {
            comment_id: parent.id
        }
    );
    for (_, event) in h.log(channel.id).await {
        let comment = match event {
            Event::CommentCreated { comment }
            | Event::CommentEdited { comment }
            | Event::CommentResolved { comment } => comment,
            _ => continue,
        };
        if comment.id == other.id {
            assert_eq!(comment.body, "kept");
        } else {
            assert!(comment.id == parent.id || comment.id == reply.id);
            assert_eq!(comment.body, "");
            assert_eq!(comment.quote, None);
            assert!(comment.mentions.is_empty());
        }
    }
    let listed = comments.comments(plan.id, plan.name.clone()).await.unwrap();
    assert_eq!(listed, [other]);
    assert!(comments
        .comment_row(plan.id, reply.id)
        .await
        .unwrap()
        .is_none());
}

pub async fn comments_are_resolved_and_reopened(h: &Harness) {
    let alice = h.user("alice").await;
    let bob = h.user("bob").await;
    let (plan, channel) = doc(h, "plan", &alice).await;
    let on = comments_of(&plan, &channel);
    let comments = &h.stores.comments;
    let created = comments
        .create_comment(on.clone(), comment(&alice, "todo", None))
        .await
        .unwrap();
    let resolved = comments
        .resolve_comment(on.clone(), created.id, Some(bob.id), bob.id)
        .await
        .unwrap();
    assert!(resolved.resolved);
    assert_eq!(resolved.resolved_by, Some(bob.to_ref()));
    assert_eq!(resolved.body, "todo");
    let reopened = comments
        .resolve_comment(on.clone(), created.id, None, alice.id)
        .await
        .unwrap();
    assert!(!reopened.resolved);
    assert_eq!(reopened.resolved_by, None);
    let published = h.published();
    let authors: Vec<Option<i64>> = published.iter().map(|p| p.author_id).collect();
    assert_eq!(authors, [Some(alice.id), Some(bob.id), Some(alice.id)]);
    match &h.log(channel.id).await[1].1 {
        Event::CommentResolved { comment } => assert_eq!(comment.body, "todo"),
        other => panic!("expected comment_resolved, got {other:?}"),
    }
}

pub async fn documents_are_found_on_demand(h: &Harness) {
    let alice = h.user("alice").await;
    let bob = h.user("bob").await;
    let (plan, _) = doc(h, "plan", &alice).await;
    let documents = &h.stores.documents;
    documents
        .set_role(plan.id, "bob".into(), Some(DocRole::Editor))
        .await
        .unwrap();
    let (by_name, grants) = documents
        .document_by_name("plan".into())
        .await
        .unwrap()
        .unwrap();
    assert_eq!((by_name.id, by_name.name.as_str()), (plan.id, "plan"));
    assert_eq!(grants, [(bob.id, DocRole::Editor)]);
    let (by_id, _) = documents.document_by_id(plan.id).await.unwrap().unwrap();
    assert_eq!(by_id.name, "plan");
    assert_eq!(by_id.creator, Some(alice.to_ref()));
    assert!(
        documents
            .document_by_name("Plan".into())
            .await
            .unwrap()
            .is_none(),
        "document names are case-sensitive"
    );
    assert!(documents.document_by_id(999).await.unwrap().is_none());
}
