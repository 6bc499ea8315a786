/// Indexes for housekeeping's reads of users (issue 13), in both stores' SQL alike. Each minute housekeeping looks for
/// the users to remove by auto-remove period (once per period) and for invitations past their expiry. Both read every
/// user without an index: about 0.03 s per statement at 100 thousand users on SQLite, four statements a pass, inside
/// the writer's transaction, so every write waited. Few users carry either column, so the indexes are partial.
public enum HousekeepingIndexes {
    public static let sql = """
        CREATE INDEX users_auto_remove ON users(auto_remove_after, date_created) WHERE auto_remove_after IS NOT NULL;
        CREATE INDEX users_invitation_expiration ON users(invitation_expiration) WHERE invitation_expiration IS NOT NULL;
        """
}
