import Foundation
import KeywayCore
import KeywaySQL
import PostgresNIO

// Rows as PostgreSQL gives them, read through KeywaySQL's column lists and decoders (Columns.swift), which the
// SQLite store reads its rows through too.

extension TableColumns {
    /// `values(value)` as this store binds them.
    static func arguments(_ value: Value) -> [any SQLArgument] { values(value) }
}

/// One row, read by column name: as PostgreSQL sent it, or as a JSON object (`row_to_json`, for several tables'
/// rows read in one statement: `Relations.load`).
struct SQLRow: ColumnReader {
    private let columns: PostgresRandomAccessRow?
    private let object: [String: Any]

    init(row: PostgresRandomAccessRow) {
        columns = row
        object = [:]
    }

    init(json: [String: Any]) {
        columns = nil
        object = json
    }

    /// The row as PostgreSQL sent it (only for a row read that way).
    var row: PostgresRandomAccessRow { columns! }

    func int(_ column: String) throws -> Int64? {
        if let columns { return try columns[column].decode(Int64?.self) }
        switch object[column] {
        case let value as Int: return Int64(value)
        case let value as Int64: return value
        case let value as NSNumber: return value.int64Value
        default: return nil
        }
    }
    func text(_ column: String) throws -> String? {
        if let columns { return try columns[column].decode(String?.self) }
        return object[column] as? String
    }
    func bool(_ column: String) throws -> Bool? {
        if let columns { return try columns[column].decode(Bool?.self) }
        switch object[column] {
        case let value as Bool: return value
        case let value as NSNumber: return value.boolValue
        default: return nil
        }
    }
    func bytes(_ column: String) throws -> [UInt8]? {
        if let columns { return try columns[column].decode(ByteBuffer?.self).map { Array($0.readableBytesView) } }
        // row_to_json writes BYTEA as "\\x" and hex digits.
        guard let hex = (object[column] as? String)?.dropFirst(2) else { return nil }
        var bytes: [UInt8] = []
        var index = hex.startIndex
        while index < hex.endIndex, let end = hex.index(index, offsetBy: 2, limitedBy: hex.endIndex) {
            guard let byte = UInt8(hex[index..<end], radix: 16) else { return nil }
            bytes.append(byte)
            index = end
        }
        return bytes
    }
}
