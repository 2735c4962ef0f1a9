"""The key of every per-user snapshot table (features, scores, tags, monitoring): one user at one date.

A leaf module (it imports nothing) so that config and every stage can share the names.
"""

USER_ID = "user_id"
AS_OF = "as_of_date"
KEY_COLUMNS = (USER_ID, AS_OF)
