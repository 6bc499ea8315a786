import Foundation
import KeywayCore
import KeywaySQL
import NIOCore
import PostgresNIO

// A thin layer over PostgresNIO so the store's SQL reads like the SQLite store's: `?` placeholders, a
// list of arguments, rows read by column name.

/// A value bound to a statement.
protocol SQLArgument: Sendable {
    func bind(to bindings: inout PostgresBindings)
}

extension Int64: SQLArgument {
    func bind(to bindings: inout PostgresBindings) { bindings.append(self) }
}
extension Int: SQLArgument {
    func bind(to bindings: inout PostgresBindings) { bindings.append(Int64(self)) }
}
extension String: SQLArgument {
    func bind(to bindings: inout PostgresBindings) { bindings.append(self) }
}
extension Bool: SQLArgument {
    func bind(to bindings: inout PostgresBindings) { bindings.append(self) }
}
extension SQLValue: SQLArgument {
    func bind(to bindings: inout PostgresBindings) {
        switch self {
        case .int(let value): bindings.append(value)
        case .text(let value): bindings.append(value)
        case .ints(let values): bindings.append(values)
        case .texts(let values): bindings.append(values)
        case .bool(let value): bindings.append(value)
        case .bytes(let value): bindings.append(ByteBuffer(bytes: value))
        }
    }
}
/// BYTEA (secret hashes).
struct Bytes: SQLArgument {
    var bytes: [UInt8]
    init(_ bytes: [UInt8]) { self.bytes = bytes }
    func bind(to bindings: inout PostgresBindings) { bindings.append(ByteBuffer(bytes: bytes)) }
}
extension Optional: SQLArgument where Wrapped: SQLArgument {
    func bind(to bindings: inout PostgresBindings) {
        switch self {
        case .some(let value): value.bind(to: &bindings)
        case .none: bindings.appendNull()
        }
    }
}

/// Rewrites `?` placeholders as PostgreSQL's `$1, $2, ...` (the store's SQL has no `?` inside literals).
func numbered(_ sql: String) -> String {
    var result = ""
    result.reserveCapacity(sql.utf8.count + 16)
    var next = 1
    for character in sql {
        if character == "?" {
            result += "$\(next)"
            next += 1
        } else {
            result.append(character)
        }
    }
    return result
}

func micros(_ date: Date?) -> Int64? { date.map(StorageCoding.microseconds) }

/// A connection lent for one operation (inside a transaction when writing).
struct SQLConnection {
    let connection: PostgresConnection
    let logger: Logger
    /// Where the SQL texts run are counted, when the store was opened to count them.
    var statements: StatementLog? = nil

    func query(_ sql: String, _ arguments: [any SQLArgument] = []) async throws -> [SQLRow] {
        statements?.note(sql)
        var bindings = PostgresBindings(capacity: arguments.count)
        for argument in arguments { argument.bind(to: &bindings) }
        let rows = try await connection.query(PostgresQuery(unsafeSQL: numbered(sql), binds: bindings), logger: logger)
        var result: [SQLRow] = []
        for try await row in rows { result.append(SQLRow(row: PostgresRandomAccessRow(row))) }
        return result
    }

    func execute(_ sql: String, _ arguments: [any SQLArgument] = []) async throws {
        _ = try await query(sql, arguments)
    }

    /// The first column of the first row as an integer.
    func scalar(_ sql: String, _ arguments: [any SQLArgument] = []) async throws -> Int64? {
        guard let row = try await query(sql, arguments).first else { return nil }
        return try row.row[0].decode(Int64?.self)
    }

    /// Runs a statement ending in `RETURNING ...` and says how many rows it touched.
    func count(_ sql: String, _ arguments: [any SQLArgument] = []) async throws -> Int {
        try await query(sql, arguments).count
    }
}

/// A statement's text in PostgreSQL's `$n` placeholders (`numbered`, once), named by its type: see `Prepared`.
protocol StatementText {
    static var sql: String { get }
}

/// A statement prepared once per connection under `Text`'s name, its rows read by column name as `query` reads them.
/// The parameters' types are the server's to infer: a statement used here binds only to columns and casts of the
/// types its arguments have (BIGINT, TEXT, BOOLEAN, and arrays of BIGINT).
struct Prepared<Text: StatementText>: PostgresPreparedStatement {
    static var sql: String { Text.sql }
    /// `Text`'s own name: PostgreSQL keeps 63 bytes of a statement's name, and the default (this type's full name,
    /// module and generic argument included) would give every `Prepared` the same first 63.
    static var name: String { "Keyway." + String(describing: Text.self) }
    typealias Row = SQLRow
    var arguments: [any SQLArgument]

    func makeBindings() throws -> PostgresBindings {
        var bindings = PostgresBindings(capacity: arguments.count)
        for argument in arguments { argument.bind(to: &bindings) }
        return bindings
    }

    func decodeRow(_ row: PostgresRow) throws -> SQLRow { SQLRow(row: PostgresRandomAccessRow(row)) }
}

extension SQLConnection {
    /// Runs `Text`'s statement prepared (`Prepared`), read to the end (the connection goes back to the pool with
    /// nothing pending); its rows.
    func prepared<Text: StatementText>(_ text: Text.Type, _ arguments: [any SQLArgument]) async throws -> [SQLRow] {
        statements?.note(Text.sql)
        var rows: [SQLRow] = []
        for try await row in try await connection.execute(Prepared<Text>(arguments: arguments), logger: logger) {
            rows.append(row)
        }
        return rows
    }

    /// Runs `Text`'s statement prepared; the first column of its first row, as an id.
    func preparedID<Text: StatementText>(_ text: Text.Type, _ arguments: [any SQLArgument]) async throws -> Int64? {
        guard let row = try await prepared(text, arguments).first else { return nil }
        return try row.row[0].decode(Int64?.self)
    }
}

/// A PostgreSQL error's SQLSTATE code, when the server sent one.
func sqlState(_ error: any Error) -> String? {
    (error as? PSQLError)?.serverInfo?[.sqlState]
}
