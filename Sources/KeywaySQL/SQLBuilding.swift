import KeywayCore
import Synchronization

// The SQL both stores write alike: which rows a caller may see, and how a list is filtered and sorted.
// Each store binds the values its own way and runs the statement; only the dialect differs.

/// A value bound to a `?` of a statement built here.
public enum SQLValue: Sendable, Equatable {
    case int(Int64)
    case text(String)
    /// A list bound as one value, for `SQLDialect.isOneOf`: SQLite reads it as a JSON array, PostgreSQL as
    /// an array.
    case ints([Int64])
    case texts([String])
    /// A flag column (SQLite stores 0 and 1).
    case bool(Bool)
    /// A BLOB or BYTEA column (secret hashes).
    case bytes([UInt8])
}

/// Where the two stores' SQL differs in a statement that is otherwise the same.
public enum SQLDialect: Sendable {
    case sqlite
    case postgres

    /// A case-blind (ASCII) pattern match: SQLite's LIKE is one; PostgreSQL's is ILIKE.
    public func like(_ column: String) -> String {
        "\(column) \(self == .sqlite ? "LIKE" : "ILIKE") ? ESCAPE '\\'"
    }

    /// A LIKE pattern that finds `text` anywhere, with `*` as a wildcard and `%`, `_`, `\` taken literally.
    public static func likePattern(_ text: String) -> String {
        var pattern = "%"
        for character in text {
            switch character {
            case "%", "_", "\\": pattern += "\\" + String(character)
            case "*": pattern += "%"
            default: pattern.append(character)
            }
        }
        return pattern + "%"
    }

    /// `column` equals one of the values of a list bound as one value (`SQLValue.ints` or `.texts`). The
    /// statement's text is the same whatever the list's length: a `?` per item made every length a new
    /// statement, and the SQLite store's statement cache kept each one for good (issue 11).
    public func isOneOf(_ column: String) -> String {
        self == .sqlite ? "\(column) IN (SELECT value FROM json_each(?))" : "\(column) = ANY(?)"
    }

    /// `isOneOf` for a list of ids, but `column = ?` for a single one: the planners read an equality as an
    /// order (an index on `(column, id)` gives `ORDER BY id LIMIT` its rows in order, stopping at the page),
    /// and a list they cannot see into as a set to sort. Two texts, whatever the list's length.
    public func isOneOf(_ column: String, _ ids: [Int64]) -> (String, SQLValue) {
        ids.count == 1 ? ("\(column) = ?", .int(ids[0])) : (isOneOf(column), .ints(ids))
    }

    /// A condition that holds for no row.
    public var never: String { self == .sqlite ? "0" : "FALSE" }

    /// A boolean column (SQLite stores 0 and 1).
    public func isTrue(_ column: String) -> String { self == .sqlite ? "\(column) = 1" : column }
    public func isFalse(_ column: String) -> String { self == .sqlite ? "\(column) = 0" : "NOT \(column)" }

    /// `text` found (case-blind, as a substring) in any of `columns`: the condition and one value per column.
    public func search(_ text: String, in columns: [String]) -> (String, [SQLValue]) {
        let pattern = SQLValue.text(SQLDialect.likePattern(text))
        return (
            "(" + columns.map(like).joined(separator: " OR ") + ")", Array(repeating: pattern, count: columns.count)
        )
    }

    /// A text column in case-blind order. SQLite's NOCASE folds ASCII letters only; PostgreSQL's `lower` folds
    /// other letters too, so names with non-ASCII capitals can sort differently on the two stores.
    public func caseBlind(_ column: String) -> String {
        self == .sqlite ? "\(column) COLLATE NOCASE" : "lower(\(column))"
    }
}

/// `?, ?, ?` for `count` bound values: a VALUES row of a fixed width. Never for a list whose length comes
/// from input (that is `SQLDialect.isOneOf`).
public func placeholders(_ count: Int) -> String { Array(repeating: "?", count: count).joined(separator: ", ") }

extension Visibility {
    /// The SQL condition for this visibility over a table aliased `prefix` (with a trailing dot, or
    /// empty), and its values. An empty visibility matches nothing.
    public func condition(prefix: String = "", dialect: SQLDialect) -> (String, [SQLValue]) {
        var alternatives: [String] = []
        var values: [SQLValue] = []
        func list(_ column: String, _ ids: [Int64]) {
            guard !ids.isEmpty else { return }
            let (condition, value) = dialect.isOneOf("\(prefix)\(column)", ids)
            alternatives.append(condition)
            values.append(value)
        }
        list("organization_id", organizations.map(\.rawValue).sorted())
        list("id", ids.sorted())
        list("device_id", sourceDevices.map(\.rawValue).sorted())
        list("device_group_id", sourceDeviceGroups.map(\.rawValue).sorted())
        var condition = alternatives.isEmpty ? dialect.never : "(" + alternatives.joined(separator: " OR ") + ")"
        if let only = onlyOrganization {
            condition += " AND \(prefix)organization_id = ?"
            values.append(.int(only.rawValue))
        }
        return (condition, values)
    }
}

extension DeviceQuery {
    /// The page of devices this query asks for: `SELECT d.id, <columns> FROM devices d` joined to its
    /// organization, filtered, sorted and paged, with its values in order.
    public func listStatement(columns: [String], dialect: SQLDialect) -> (sql: String, values: [SQLValue]) {
        let (visible, visibleValues) = visibility.condition(prefix: "d.", dialect: dialect)
        var conditions = [visible]
        var values = visibleValues
        func like(_ column: String, _ text: String?) {
            guard let text else { return }
            conditions.append(dialect.like(column))
            values.append(.text(SQLDialect.likePattern(text)))
        }
        if let id = deviceID {
            conditions.append("d.id = ?")
            values.append(.int(id.rawValue))
        }
        like("o.name", organizationName)
        if let group = deviceGroupID {
            conditions.append("d.id IN (SELECT device_id FROM device_group_members WHERE group_id = ?)")
            values.append(.int(group.rawValue))
        }
        if let search {
            let (condition, patterns) = dialect.search(
                search, in: ["d.name", "d.location", "d.remarks", "CAST(d.id AS TEXT)"])
            conditions.append(condition)
            values += patterns
        }
        like("d.name", name)
        like("d.location", location)
        like("d.remarks", remarks)
        if let type {
            conditions.append("d.device_type = ?")
            values.append(.text(type.rawValue))
        }
        if let gateway = gatewayID {
            conditions.append("d.gateway_id = ?")
            values.append(.int(gateway.rawValue))
        }
        if !showsDecommissioned { conditions.append("d.date_decommissioned IS NULL") }
        if !showsUninstalled { conditions.append(dialect.isTrue("d.installed")) }
        switch filter {
        case .installed: conditions.append(dialect.isTrue("d.installed") + " AND d.date_decommissioned IS NULL")
        case .uninstalled: conditions.append(dialect.isFalse("d.installed"))
        case .decommissioned: conditions.append("d.date_decommissioned IS NOT NULL")
        case .commissioned: conditions.append("d.date_decommissioned IS NULL")
        case nil: break
        }
        let direction = sortDirection == .asc ? "ASC" : "DESC"
        let order: String
        switch sortBy {
        case .id: order = "d.id \(direction)"
        case .name: order = "\(dialect.caseBlind("d.name")) \(direction), d.id \(direction)"
        case .batteryLevel:
            // Best battery first ascending; devices without a reading last either way.
            let rank = BatteryLevel.allCases.map { "WHEN '\($0.rawValue)' THEN \($0.rank)" }.joined(separator: " ")
            order = "d.battery_level IS NULL, CASE d.battery_level \(rank) END \(direction), d.id \(direction)"
        }
        values += [.int(Int64(page.size)), .int(Int64(page.offset))]
        let sql = """
            SELECT d.id, \(columns.map { "d." + $0 }.joined(separator: ", ")) FROM devices d
            JOIN organizations o ON o.id = d.organization_id
            WHERE \(conditions.joined(separator: " AND ")) ORDER BY \(order) LIMIT ? OFFSET ?
            """
        return (sql, values)
    }
}

extension ShareQuery {
    /// The page of shares this query asks for: `SELECT <columns> FROM shares`, filtered, sorted and paged,
    /// with its values in order. `columns` includes the id.
    public func listStatement(columns: String, dialect: SQLDialect) -> (sql: String, values: [SQLValue]) {
        let (visible, visibleValues) = visibility.condition(dialect: dialect)
        var conditions = [visible]
        var values = visibleValues
        func equal(_ column: String, _ value: SQLValue?) {
            guard let value else { return }
            conditions.append("\(column) = ?")
            values.append(value)
        }
        equal("external_id", externalID.map(SQLValue.text))
        equal("device_id", deviceID.map { .int($0.rawValue) })
        equal("device_group_id", deviceGroupID.map { .int($0.rawValue) })
        equal("user_id", userID.map { .int($0.rawValue) })
        equal("user_group_id", userGroupID.map { .int($0.rawValue) })
        let direction = sortDirection == .asc ? "ASC" : "DESC"
        let order: String
        switch sortBy {
        case .id: order = "id \(direction)"
        case .dateCreated: order = "date_created \(direction), id \(direction)"
        // Shares without a start sort first ascending (they started "always"), last descending.
        case .startDate:
            order = "start_date \(direction) NULLS \(sortDirection == .asc ? "FIRST" : "LAST"), id \(direction)"
        }
        values += [.int(Int64(page.size)), .int(Int64(page.offset))]
        let sql =
            "SELECT \(columns) FROM shares WHERE \(conditions.joined(separator: " AND ")) ORDER BY \(order) LIMIT ? OFFSET ?"
        return (sql, values)
    }
}

extension UserQuery {
    /// The page of users this query asks for: `SELECT <columns> FROM users`, filtered and paged by id, with
    /// its values in order. `columns` includes the id.
    public func listStatement(columns: String, dialect: SQLDialect) -> (sql: String, values: [SQLValue]) {
        let (visible, visibleValues) = visibility.condition(dialect: dialect)
        var conditions = [visible]
        var values = visibleValues
        if let externalID {
            conditions.append("external_id = ?")
            values.append(.text(externalID))
        }
        if let search {
            let (condition, patterns) = dialect.search(
                search, in: ["first_name", "last_name", "email_address", "phone_number"])
            conditions.append(condition)
            values += patterns
        }
        values += [.int(Int64(page.size)), .int(Int64(page.offset))]
        let sql =
            "SELECT \(columns) FROM users WHERE \(conditions.joined(separator: " AND ")) ORDER BY id LIMIT ? OFFSET ?"
        return (sql, values)
    }
}

/// Device groups and user groups share their tables' shape; these describe the differences.
public struct GroupTable: Sendable {
    public var table: String
    public var memberTable: String
    public var memberColumn: String
    /// The columns a group is read from (`DeviceGroupColumns.all` or `UserGroupColumns.all`).
    public var columns: String
    public var searchColumns: [String]
    public var sortable: Set<GroupSortKey>

    public static let devices = GroupTable(
        table: "device_groups", memberTable: "device_group_members", memberColumn: "device_id",
        columns: DeviceGroupColumns.all,
        searchColumns: ["name", "remarks", "location"], sortable: Set(GroupSortKey.allCases))
    public static let users = GroupTable(
        table: "user_groups", memberTable: "user_group_members", memberColumn: "user_id", columns: UserGroupColumns.all,
        searchColumns: ["name", "remarks"], sortable: Set(GroupSortKey.allCases).subtracting([.location]))

    /// The page of groups `query` asks for (`SELECT columns`), with its values in order. A sort this table does
    /// not offer falls back to the id; NULLs sort first ascending and last descending on both stores.
    public func listStatement(_ query: GroupQuery, dialect: SQLDialect) -> (sql: String, values: [SQLValue]) {
        let (visible, visibleValues) = query.visibility.condition(dialect: dialect)
        var conditions = [visible]
        var values = visibleValues
        if let search = query.search {
            let (condition, patterns) = dialect.search(search, in: searchColumns)
            conditions.append(condition)
            values += patterns
        }
        let direction = query.sortDirection == .asc ? "ASC" : "DESC"
        let nulls = query.sortDirection == .asc ? "NULLS FIRST" : "NULLS LAST"
        let column: String
        switch sortable.contains(query.sortBy) ? query.sortBy : .id {
        case .id: column = "id \(direction)"
        case .name: column = "\(dialect.caseBlind("name")) \(direction) \(nulls)"
        case .remarks: column = "\(dialect.caseBlind("remarks")) \(direction) \(nulls)"
        case .location: column = "\(dialect.caseBlind("location")) \(direction) \(nulls)"
        case .dateCreated: column = "date_created \(direction) \(nulls)"
        case .dateModified: column = "date_modified \(direction) \(nulls)"
        }
        values += [.int(Int64(query.page.size)), .int(Int64(query.page.offset))]
        let sql =
            "SELECT \(columns) FROM \(table) WHERE \(conditions.joined(separator: " AND ")) "
            + "ORDER BY \(column), id \(direction) LIMIT ? OFFSET ?"
        return (sql, values)
    }
}

extension EventQuery {
    /// The page of events this query asks for, oldest first (or newest first), with its values in order; nil when it names
    /// no organization (and so can match nothing). `columns` includes the id.
    public func listStatement(columns: String, dialect: SQLDialect) -> (sql: String, values: [SQLValue])? {
        guard !organizations.isEmpty else { return nil }
        var conditions: [String] = []
        var values: [SQLValue] = []
        func list(_ column: String, _ ids: [Int64]) {
            let (condition, value) = dialect.isOneOf(column, ids)
            conditions.append(condition)
            values.append(value)
        }
        list("organization_id", organizations.map(\.rawValue).sorted())
        if !deviceIDs.isEmpty { list("device_id", deviceIDs.map(\.rawValue).sorted()) }
        if !types.isEmpty {
            conditions.append(dialect.isOneOf("type"))
            values.append(.texts(types.map(\.rawValue).sorted()))
        }
        if let from {
            conditions.append("time >= ?")
            values.append(.int(StorageCoding.microseconds(from)))
        }
        values += [.int(Int64(page.size)), .int(Int64(page.offset))]
        let sql =
            "SELECT \(columns) FROM events WHERE \(conditions.joined(separator: " AND ")) ORDER BY id"
            + (newestFirst ? " DESC" : "") + " LIMIT ? OFFSET ?"
        return (sql, values)
    }
}

extension GatewayConnection {
    /// Writes a gateway's connection columns of `device_state`, leaving the rest of an existing row as it is.
    /// Bound in order: the device id, `online`, `bridgeURL`, `bridgeSecret`.
    public static let upsertSQL = """
        INSERT INTO device_state (device_id, online, bridge_url, bridge_secret) VALUES (?, ?, ?, ?)
        ON CONFLICT (device_id) DO UPDATE SET online = excluded.online,
            bridge_url = excluded.bridge_url, bridge_secret = excluded.bridge_secret
        """
}

/// The distinct SQL texts a store has run, counted when asked (`KeywayConfig.recordStatements`): a store's
/// prepared statements, and SQLite's statement cache, grow with this number, so a test can show that no
/// input makes it grow without bound. Holds at most `limit` texts.
public final class StatementLog: Sendable {
    private let texts = Mutex<Set<String>>([])
    public static let limit = 100_000

    public init() {}

    /// Every statement run, distinct or not.
    private let runs = Atomic<Int>(0)

    public func note(_ sql: String) {
        runs.add(1, ordering: .relaxed)
        texts.withLock { texts in
            if texts.count < Self.limit { texts.insert(sql) }
        }
    }

    public var count: Int { texts.withLock { $0.count } }
    public var total: Int { runs.load(ordering: .relaxed) }
}
