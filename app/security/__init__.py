"""Security: who someone is, what they may do, and what they did.

* `identity`    accounts, tokens, sessions (storage and the rules of identity); `Principal`
* `passwords`   argon2id hashing
* `accounts`    managed operations the CLI and UI call: add/disable accounts, tokens, grants, sign-in
* `policy`      roles, grants and THE check: `authorize(...) -> Decision`, `require(...)` (raises AccessDenied)
* `audit`       the append-only audit log: `record(...)`, `entries(...)`
* `credentials` the CLI's saved tokens (0600 file under the user's config dir)
* `demo`        the demo workspace's accounts and grants
"""
