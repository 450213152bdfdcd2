//! Token lists, last use, expiry, the per-user cap and bots.

use std::sync::Arc;

use parley_protocol::{
    api::{ScopeOp, TokenScope},
    ErrorCode,
};

use super::{code, new_user, Harness};
use crate::store::{now_ms, NewToken, UserCreation};

fn token(hash: &str) -> NewToken {
    NewToken {
        hash: hash.as_bytes().to_vec(),
        label: hash.into(),
        ..NewToken::default()
    }
}

pub async fn tokens_are_listed_touched_and_revoked_by_id(h: &Harness) {
    let alice = h.user("alice").await;
    let bob = h.user("bob").await;
    let (accounts, tokens) = (&h.stores.accounts, &h.stores.tokens);
    let scope = TokenScope {
        channels: vec!["alerts".into()],
        operations: vec![ScopeOp::Send],
    };
    let first = accounts.issue_token(alice.id, token("a1")).await.unwrap();
    let scoped = NewToken {
        scope: Some(scope.clone()),
        ..token("a2")
    };
    let second = accounts.issue_token(alice.id, scoped).await.unwrap();
    accounts.issue_token(bob.id, token("b1")).await.unwrap();
    let listed = tokens.list_tokens(alice.id, 10).await.unwrap();
    assert_eq!(
        listed.iter().map(|t| t.id).collect::<Vec<_>>(),
        [second, first]
    );
    assert_eq!(listed[0].scope.as_ref(), Some(&scope));
    assert_eq!(listed[1].last_used_at, None);
    let found = accounts
        .token_by_hash(b"a2".to_vec())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(found.scope, Some(Arc::new(scope)));

    // Last use moves forward only.
    tokens.touch_tokens(vec![(first, 5000)]).await.unwrap();
    tokens.touch_tokens(vec![(first, 4000)]).await.unwrap();
    let listed = tokens.list_tokens(alice.id, 1).await.unwrap();
    assert_eq!(listed.len(), 1);
    let listed = tokens.list_tokens(alice.id, 10).await.unwrap();
    assert_eq!(listed[1].last_used_at, Some(5000));

    // Only the owner revokes by id, once.
    assert!(!tokens.revoke_token_of(bob.id, first).await.unwrap());
    assert!(tokens.revoke_token_of(alice.id, first).await.unwrap());
    assert!(!tokens.revoke_token_of(alice.id, first).await.unwrap());
    assert!(accounts
        .token_by_hash(b"a1".to_vec())
        .await
        .unwrap()
        .is_none());
    assert_eq!(tokens.list_tokens(alice.id, 10).await.unwrap().len(), 1);
}

pub async fn expired_tokens_count_as_revoked(h: &Harness) {
    let alice = h.user("alice").await;
    let (accounts, tokens) = (&h.stores.accounts, &h.stores.tokens);
    let expired = NewToken {
        expires_at: Some(now_ms() - 1),
        ..token("old")
    };
    let later = NewToken {
        expires_at: Some(now_ms() + 3_600_000),
        ..token("new")
    };
    let old = accounts.issue_token(alice.id, expired).await.unwrap();
    let new = accounts.issue_token(alice.id, later).await.unwrap();
    assert!(accounts
        .token_by_hash(b"old".to_vec())
        .await
        .unwrap()
        .is_none());
    assert!(accounts
        .token_by_hash(b"new".to_vec())
        .await
        .unwrap()
        .is_some());
    assert_eq!(accounts.revoked_among(vec![old, new]).await.unwrap(), [old]);
    let listed = tokens.list_tokens(alice.id, 10).await.unwrap();
    assert_eq!(listed.iter().map(|t| t.id).collect::<Vec<_>>(), [new]);
}

pub async fn the_token_cap_refuses_or_evicts_inside_the_write(h: &Harness) {
    let alice = h.user("alice").await;
    let tokens = &h.stores.tokens;
    let a = tokens
        .issue_capped(alice.id, token("t1"), 2, false)
        .await
        .unwrap();
    let b = tokens
        .issue_capped(alice.id, token("t2"), 2, false)
        .await
        .unwrap();
    assert!(a.evicted.is_empty() && b.evicted.is_empty());
    assert_eq!(
        code(tokens.issue_capped(alice.id, token("t3"), 2, false).await),
        ErrorCode::LimitReached
    );
    // The first one was used more recently, so the second makes room.
    tokens
        .touch_tokens(vec![(a.id, now_ms() + 1000)])
        .await
        .unwrap();
    let c = tokens
        .issue_capped(alice.id, token("t4"), 2, true)
        .await
        .unwrap();
    assert_eq!(c.evicted, [b.id]);
    let live: Vec<i64> = tokens
        .list_tokens(alice.id, 10)
        .await
        .unwrap()
        .iter()
        .map(|t| t.id)
        .collect();
    assert_eq!(live, [c.id, a.id]);
}

pub async fn bots_are_told_apart(h: &Harness) {
    let alice = h.user("alice").await;
    let tokens = &h.stores.tokens;
    let UserCreation::Created(bot) = tokens
        .create_bot(new_user("deploybot", None))
        .await
        .unwrap()
    else {
        panic!("the bot was not created");
    };
    assert_eq!(tokens.bot_by_id(bot.id).await.unwrap(), Some(bot.clone()));
    assert_eq!(tokens.bot_by_id(alice.id).await.unwrap(), None);
    assert_eq!(
        code(tokens.create_bot(new_user("ALICE", None)).await),
        ErrorCode::UserExists
    );
}
