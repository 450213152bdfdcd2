//! Token lists, revocation by id, last use, the per-user cap and bots, in memory.

use super::MemoryStore;
use crate::store::{
    now_ms, refusals, Issued, NewToken, NewUser, StoreFuture, StoredToken, TokenStore,
    UserCreation, UserRecord,
};

impl TokenStore for MemoryStore {
    fn list_tokens(&self, user_id: i64, limit: u32) -> StoreFuture<'_, Vec<StoredToken>> {
        let now = now_ms();
        let found = self.read(|state| {
            Ok(state
                .tokens
                .iter()
                .rev()
                .filter(|(_, t)| t.user_id == user_id && t.live(now))
                .take(limit as usize)
                .map(|(id, t)| StoredToken {
                    id: *id,
                    label: t.label.clone(),
                    created_at: t.created_at,
                    last_used_at: t.last_used_at,
                    expires_at: t.expires_at,
                    scope: t.scope.clone(),
                })
                .collect())
        });
        Box::pin(async move { found })
    }

    fn revoke_token_of(&self, user_id: i64, token_id: i64) -> StoreFuture<'_, bool> {
        Box::pin(self.write(move |state| {
            let now = now_ms();
            let token = state
                .tokens
                .get_mut(&token_id)
                .filter(|t| t.user_id == user_id && t.live(now));
            Ok((token.map(|t| t.revoked = true).is_some(), Vec::new()))
        }))
    }

    fn touch_tokens(&self, uses: Vec<(i64, i64)>) -> StoreFuture<'_, ()> {
        Box::pin(self.write(move |state| {
            for (id, at) in uses {
                if let Some(token) = state.tokens.get_mut(&id) {
                    token.last_used_at = Some(token.last_used_at.map_or(at, |t| t.max(at)));
                }
            }
            Ok(((), Vec::new()))
        }))
    }

    fn issue_capped(
        &self,
        user_id: i64,
        token: NewToken,
        cap: usize,
        evict: bool,
    ) -> StoreFuture<'_, Issued> {
        Box::pin(self.write(move |state| {
            let now = now_ms();
            let cap = cap.max(1);
            let mut live: Vec<(i64, i64)> = state
                .tokens
                .iter()
                .filter(|(_, t)| t.user_id == user_id && t.live(now))
                .map(|(id, t)| (t.last_used_at.unwrap_or(t.created_at), *id))
                .collect();
            let mut evicted = Vec::new();
            if live.len() >= cap {
                if !evict {
                    return Err(refusals::too_many_tokens(cap));
                }
                live.sort_unstable();
                for (_, id) in live.iter().take(live.len() - cap + 1) {
                    if let Some(t) = state.tokens.get_mut(id) {
                        t.revoked = true;
                        evicted.push(*id);
                    }
                }
                evicted.sort_unstable();
            }
            let id = state.issue_token(user_id, token);
            Ok((Issued { id, evicted }, Vec::new()))
        }))
    }

    fn create_bot(&self, user: NewUser) -> StoreFuture<'_, UserCreation> {
        Box::pin(self.write(move |state| {
            let created = state.create_user(user, None)?;
            if let UserCreation::Created(record) = &created {
                state.bots.insert(record.id);
            }
            Ok((created, Vec::new()))
        }))
    }

    fn bot_by_id(&self, id: i64) -> StoreFuture<'_, Option<UserRecord>> {
        let found = self.read(|state| {
            Ok(state
                .bots
                .contains(&id)
                .then(|| state.users.get(&id).map(|u| u.record.clone()))
                .flatten())
        });
        Box::pin(async move { found })
    }
}
