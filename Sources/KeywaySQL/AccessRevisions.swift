import KeywayCore

/// The writes that change what a credential means or what an account's access is made of, for both stores'
/// triggers: each table, with the access scopes (`AccessScope.key`) a row `R` of it belongs to. A scope that is
/// NULL (a row without an account, a group already gone in a cascade) is skipped; the cascade's parent row bumps
/// its own scope.
public enum AccessRevisions {
    public static let tables: [(table: String, scopes: [String])] = [
        ("organizations", ["'o:' || R.id", "'k:' || R.id"]),
        ("users", ["'o:' || R.organization_id", "'a:' || R.account_id"]),
        ("user_groups", ["'o:' || R.organization_id"]),
        ("user_group_members", ["'o:' || (SELECT organization_id FROM user_groups WHERE id = R.group_id)"]),
        ("devices", ["'o:' || R.organization_id"]),
        ("device_groups", ["'o:' || R.organization_id"]),
        ("device_group_members", ["'o:' || (SELECT organization_id FROM device_groups WHERE id = R.group_id)"]),
        ("shares", ["'o:' || R.organization_id"]),
        ("api_keys", ["'o:' || R.organization_id", "'k:' || R.organization_id"]),
        ("tokens", ["'a:' || R.account_id"]),
    ]

    /// The tables whose scopes changed after the first migration (SQLite 0014, PostgreSQL 0010): an organization's
    /// API keys (`k:`) became a scope of their own (SQLite 0017, PostgreSQL 0013), so that an API key's cached
    /// verification outlives the writes its own requests make to the organization.
    static let keyScopeTables: Set<String> = ["organizations", "api_keys"]

    /// The tables as the first migration created their triggers: its SQL must not change under a database that
    /// applied it.
    static var original: [(table: String, scopes: [String])] {
        tables.map { table in (table.table, table.scopes.filter { !$0.hasPrefix("'k:'") }) }
    }

    /// The scopes of a row named `row` (`NEW`, `OLD`, or a transition table's alias), as one `SELECT` per scope.
    static func scopes(of table: (table: String, scopes: [String]), row: String) -> [String] {
        table.scopes.map { $0.replacingOccurrences(of: "R.", with: "\(row).") }
    }

    /// SQLite: a change counter (`access_clock`), and per scope the counter's value at its last write
    /// (`access_revisions`), set by a trigger after every insert, update and delete of the tables above. SQLite has
    /// one writer, so the counter's order is the order of commits: a stamp is the counter, and a scope changed
    /// since a stamp when its revision is greater.
    public static var sqliteSchema: String {
        """
        CREATE TABLE access_clock (id INTEGER PRIMARY KEY CHECK (id = 1), seq INTEGER NOT NULL);
        INSERT INTO access_clock (id, seq) VALUES (1, 0);
        CREATE TABLE access_revisions (scope TEXT PRIMARY KEY, revision INTEGER NOT NULL) WITHOUT ROWID;

        """ + sqliteTriggers(original)
    }

    /// SQLite: the triggers of `tables` created again with their scopes of today (SQLite 0017).
    public static var sqliteKeyScopeTriggers: String {
        sqliteTriggers(tables.filter { keyScopeTables.contains($0.table) }, replacing: true)
    }

    static func sqliteTriggers(_ tables: [(table: String, scopes: [String])], replacing: Bool = false) -> String {
        var sql = ""
        for table in tables {
            for (operation, rows) in [("INSERT", ["NEW"]), ("UPDATE", ["NEW", "OLD"]), ("DELETE", ["OLD"])] {
                let selects = rows.flatMap { scopes(of: table, row: $0) }.map { "SELECT \($0) AS scope" }
                let name = "access_\(table.table)_\(operation.lowercased())"
                if replacing { sql += "DROP TRIGGER \(name);\n" }
                sql += """
                    CREATE TRIGGER \(name) AFTER \(operation) ON \(table.table)
                    BEGIN
                        UPDATE access_clock SET seq = seq + 1;
                        INSERT INTO access_revisions (scope, revision)
                        SELECT scope, (SELECT seq FROM access_clock) FROM (\(selects.joined(separator: " UNION ")))
                        WHERE scope IS NOT NULL
                        ON CONFLICT (scope) DO UPDATE SET revision = excluded.revision;
                    END;

                    """
            }
        }
        return sql
    }

    /// PostgreSQL: every transaction that writes the tables above records the scopes it touched with its own
    /// transaction id (`access_changes`, by statement-level triggers over the transition tables). Writers never
    /// update a shared row, so they never conflict with each other through it (every domain write is
    /// SERIALIZABLE: one revision row per organization would make concurrent writes to an organization fail and
    /// retry). A stamp is a snapshot (`pg_current_snapshot()`); a scope changed since a stamp when it has a change
    /// whose transaction that snapshot does not see. Rows older than an hour are pruned (`at`, the database's
    /// clock); the cache keeps an entry at most five minutes. Each statement stands on one line: the migration
    /// runner splits at a semicolon that ends a line.
    public static var postgresSchema: String {
        var sql = """
            CREATE TABLE access_changes (scope TEXT NOT NULL, xid xid8 NOT NULL, at BIGINT NOT NULL, PRIMARY KEY (scope, xid));
            CREATE INDEX access_changes_at ON access_changes(at);

            """
        for table in original {
            sql += postgresFunction(table, replacing: false)
            for (operation, transition, suffix) in [
                ("INSERT", "NEW", "insert"), ("UPDATE", "NEW", "update_new"), ("UPDATE", "OLD", "update_old"),
                ("DELETE", "OLD", "delete"),
            ] {
                sql += """
                    CREATE TRIGGER access_\(table.table)_\(suffix) AFTER \(operation) ON \(table.table) \
                    REFERENCING \(transition) TABLE AS changed FOR EACH STATEMENT EXECUTE FUNCTION keyway_access_\(table.table)();

                    """
            }
        }
        return sql
    }

    /// PostgreSQL: the trigger functions of `tables` replaced by their scopes of today (PostgreSQL 0013); the
    /// triggers stay.
    public static var postgresKeyScopeFunctions: String {
        tables.filter { keyScopeTables.contains($0.table) }.map { postgresFunction($0, replacing: true) }.joined()
    }

    static func postgresFunction(_ table: (table: String, scopes: [String]), replacing: Bool) -> String {
        let values = scopes(of: table, row: "changed").map { "(\($0))" }.joined(separator: ", ")
        return """
            CREATE \(replacing ? "OR REPLACE " : "")FUNCTION keyway_access_\(table.table)() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN \
            INSERT INTO access_changes (scope, xid, at) SELECT DISTINCT s.scope, pg_current_xact_id(), \
            (extract(epoch FROM clock_timestamp()) * 1000000)::bigint FROM changed \
            CROSS JOIN LATERAL (VALUES \(values)) AS s(scope) WHERE s.scope IS NOT NULL ON CONFLICT DO NOTHING; \
            RETURN NULL; END $$;

            """
    }

    /// PostgreSQL: whether any of the scopes bound as `$scopes` (a text array) has a change the snapshot bound as
    /// `$snapshot` does not see. The condition the statements below select.
    static func postgresChange(scopes: Int, snapshot: Int) -> String {
        "EXISTS (SELECT 1 FROM access_changes WHERE scope = ANY($\(scopes)) "
            + "AND xid >= pg_snapshot_xmin($\(snapshot)::pg_snapshot) "
            + "AND NOT pg_visible_in_snapshot(xid, $\(snapshot)::pg_snapshot))"
    }

    /// PostgreSQL: whether any of the scopes bound first (a text array) has a change the snapshot bound second does
    /// not see.
    public static let postgresChanged = "SELECT \(postgresChange(scopes: 1, snapshot: 2)) AS changed"

    /// PostgreSQL: `postgresChanged` twice in one statement (`$1`/`$2`, then `$3`/`$4`): a request's credential and
    /// a cached read checked in one trip.
    public static let postgresChangedTwice =
        "SELECT \(postgresChange(scopes: 1, snapshot: 2)) AS first, \(postgresChange(scopes: 3, snapshot: 4)) AS second"

    /// SQLite: whether any of the scopes bound (a JSON array) was written after the counter bound next. The condition
    /// the statements below select.
    static let sqliteChange =
        "EXISTS (SELECT 1 FROM access_revisions WHERE scope IN (SELECT value FROM json_each(?)) AND revision > ?)"

    /// SQLite: `sqliteChanged` twice in one statement.
    public static let sqliteChangedTwice = "SELECT \(sqliteChange), \(sqliteChange)"

    /// SQLite: whether any of the scopes bound first (a JSON array) was written after the counter bound second.
    public static let sqliteChanged = "SELECT \(sqliteChange)"

    /// SQLite: `sqliteChanged`, and the state of the devices in the third parameter (a JSON array), in one statement:
    /// a row per state found, each carrying the check's answer (`access_changed`), or one row with the answer alone.
    public static let sqliteChangedAndStates = """
        SELECT \(sqliteChange) AS access_changed, \(DeviceStateColumns.all) FROM (SELECT 1) AS one \
        LEFT JOIN device_state ON device_id IN (SELECT value FROM json_each(?))
        """

    /// PostgreSQL: `postgresChanged` (`$1`, `$2`) and the state of the devices in `$3`, as `sqliteChangedAndStates`.
    public static let postgresChangedAndStates = """
        SELECT \(postgresChange(scopes: 1, snapshot: 2)) AS access_changed, \(DeviceStateColumns.all) \
        FROM (SELECT 1) AS one LEFT JOIN device_state ON device_id = ANY($3)
        """
}
