/// The shares' indexes on a column that most shares leave empty, made partial (issue 13), in both stores' SQL alike.
///
/// A share names a device or a device group, a user or a user group (never both of a pair), and seldom has an
/// external id, an auto-remove date or a creating account. A plain index holds an entry for every share, empty
/// column or not, and every new share writes one into each: on SQLite a page to the WAL per index. Without the
/// empty ones, a share written by an API key for a user on a device (the commonest) writes four index entries fewer.
///
/// Every statement that reads through one of these indexes constrains its column with `=`, `IN`, `= ANY` or `<=`,
/// which both planners read as "not null", so each index still serves it. SQLite's statements are planned by
/// `SQLiteSpecificTests.sharesAndHousekeepingStatementsReadThroughTheirIndexes`; PostgreSQL's were checked with
/// `EXPLAIN`, generic plans included.
public enum ShareIndexes {
    /// Each index's name and definition, as migration 0001 created it, with the condition it now carries.
    static let partial: [(name: String, definition: String, column: String)] = [
        ("shares_external", "(organization_id, external_id, id)", "external_id"),
        ("shares_device", "(device_id, id)", "device_id"),
        ("shares_device_group", "(device_group_id, id)", "device_group_id"),
        ("shares_user", "(user_id, id)", "user_id"),
        ("shares_user_group", "(user_group_id, id)", "user_group_id"),
        ("shares_auto_remove", "(auto_remove_date)", "auto_remove_date"),
        ("shares_creator", "(creator_account_id)", "creator_account_id"),
    ]

    /// The migration: each index dropped and created again without the shares whose column is empty.
    public static let partialSQL = partial.map { index in
        "DROP INDEX \(index.name);\nCREATE INDEX \(index.name) ON shares\(index.definition) WHERE \(index.column) IS NOT NULL;"
    }.joined(separator: "\n")
}
