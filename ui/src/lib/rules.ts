// Generated from parley_protocol::names by `PARLEY_UPDATE_BINDINGS=1 cargo test -p parley-app bindings`.
// Do not edit: change the rule in the protocol crate and regenerate.

/** The longest user name. */
export const USER_NAME_MAX_LENGTH = 40;

/** What a user name may be (the whole name must match). */
export const USER_NAME_PATTERN = new RegExp("^[A-Za-z0-9][A-Za-z0-9\\-_.]{0,39}$");

/** The rule, said for people. */
export const USER_NAME_RULE = "user names are 1 to 40 letters, digits, '-', '_' or '.', starting with a letter or digit";

/** The longest document name. */
export const DOC_NAME_MAX_LENGTH = 100;

/** What a document name may be (the whole name must match). */
export const DOC_NAME_PATTERN = new RegExp("^[A-Za-z0-9\\-_][A-Za-z0-9\\-_.]{0,99}$");

/** The rule, said for people. */
export const DOC_NAME_RULE = "document names are 1 to 100 letters, digits, '-', '_' or '.', not starting with '.'";

/** The longest channel name. */
export const CHANNEL_NAME_MAX_LENGTH = 100;

/** What a new channel's name may be (the whole name must match). */
export const CHANNEL_NAME_PATTERN = new RegExp("^(?=.{1,100}$)[a-z0-9\\-_.]+(?::[a-z0-9\\-_.]+)*$");

/** The rule, said for people. */
export const CHANNEL_NAME_RULE = "channel names are 1 to 100 lowercase letters, digits, '-', '_' or '.', with ':' between namespaces (team:general)";
