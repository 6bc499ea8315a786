import Foundation
import GRDB
import KeywayCore
import KeywaySQL

// Database rows and domain values are mapped here, explicitly, column by column.

func micros(_ date: Date?) -> Int64? { date.map(StorageCoding.microseconds) }
func date(_ row: Row, _ column: String) -> Date? {
    (row[column] as Int64?).map(StorageCoding.date(microseconds:))
}
func requiredDate(_ row: Row, _ column: String) -> Date {
    StorageCoding.date(microseconds: row[column] as Int64? ?? 0)
}

extension Database {
    /// One statement, compiled once per connection and kept: GRDB's `execute(sql:)` compiles it anew each time,
    /// triggers included (every write to an access table fires the revision triggers), which a profile of
    /// `POST /v2/shares` showed. Only for SQL texts from a fixed set (the stores' own), so the cache stays bounded.
    func run(sql: String, arguments: StatementArguments = StatementArguments()) throws {
        try cachedStatement(sql: sql).execute(arguments: arguments)
    }
}

extension StatementArguments {
    /// The values of a statement built in KeywaySQL, as GRDB binds them.
    init(_ values: [SQLValue]) { self.init(values.map { $0.databaseValue as (any DatabaseValueConvertible)? }) }
}

extension SQLValue {
    var databaseValue: any DatabaseValueConvertible {
        switch self {
        case .int(let value): value
        case .text(let value): value
        case .ints(let values): jsonArray(values)
        case .texts(let values): jsonArray(values)
        case .bool(let value): value
        case .bytes(let value): Data(value)
        }
    }
}

/// A list as `json_each(?)` reads it (`SQLDialect.isOneOf`).
func jsonArray(_ values: [Int64]) -> String { "[" + values.map(String.init).joined(separator: ",") + "]" }

/// Written by hand (every request's revision check binds one): quote, backslash and control characters escaped.
func jsonArray(_ values: [String]) -> String {
    var out: [UInt8] = [0x5B]
    for (index, value) in values.enumerated() {
        if index > 0 { out.append(0x2C) }
        out.append(0x22)
        for byte in value.utf8 {
            switch byte {
            case 0x22, 0x5C: out += [0x5C, byte]
            case 0x00..<0x20:
                let hex = Array("0123456789abcdef".utf8)
                out += [0x5C, 0x75, 0x30, 0x30, hex[Int(byte >> 4)], hex[Int(byte & 0x0F)]]
            default: out.append(byte)
            }
        }
        out.append(0x22)
    }
    out.append(0x5D)
    return String(decoding: out, as: UTF8.self)
}

extension Row: ColumnReader {
    public func int(_ column: String) -> Int64? { self[column] }
    public func text(_ column: String) -> String? { self[column] }
    public func bool(_ column: String) -> Bool? { self[column] }
    public func bytes(_ column: String) -> [UInt8]? { (self[column] as Data?).map { [UInt8]($0) } }
}

extension TableColumns {
    /// `values(value)` as this store binds them.
    static func arguments(_ value: Value) -> StatementArguments {
        StatementArguments(values(value).map { $0?.databaseValue })
    }
}

enum ShareRow {
    /// Reads a row of `SELECT \(ShareColumns.all)` by position, through `RowValues` (GRDB's lookup by name
    /// lower-cases every column name on every access, and its generic decoding looks up type metadata per
    /// column: the profile showed each as the largest cost of decoding shares in turn).
    static func decode(_ row: Row) throws -> Share {
        let row = RowValues(row)
        let source: ShareSource
        if let device = row.int(11) {
            source = .device(DeviceID(device))
        } else {
            source = .deviceGroup(DeviceGroupID(row.int(12) ?? 0))
        }
        let receiver: ShareReceiver
        if let user = row.int(13) {
            receiver = .user(UserID(user))
        } else {
            receiver = .userGroup(UserGroupID(row.int(14) ?? 0))
        }
        let tokenText = row.string(22) ?? ""
        guard let token = UUID(uuidString: tokenText) else {
            throw StorageCodingError(what: "share token", value: tokenText)
        }
        return Share(
            id: ShareID(row.int(0) ?? 0),
            organizationID: OrganizationID(row.int(1) ?? 0),
            creatorAccountID: row.int(2).map { AccountID($0) },
            startDate: row.string(3).flatMap(LocalDate.init),
            startTime: row.string(4).flatMap(LocalTime.init),
            endDate: row.string(5).flatMap(LocalDate.init),
            endTime: row.string(6).flatMap(LocalTime.init),
            schedule: try StorageCoding.decodeSchedule(row.string(7) ?? "[]"),
            permissions: Permissions(
                administrate: row.bool(8) ?? false, remoteActivate: row.bool(9) ?? false,
                assignKeyfob: row.bool(10) ?? false),
            source: source, receiver: receiver,
            receiverName: ReceiverName(firstName: row.string(15), lastName: row.string(16), groupName: row.string(17)),
            notifications: row.bool(18),
            autoRemoveAfter: row.string(19).flatMap(AutoRemoveAfter.init(rawValue:)),
            autoRemoveDate: row.int(20).map(StorageCoding.date(microseconds:)), externalID: row.string(21),
            token: token,
            webKey: row.string(23).flatMap(UUID.init(uuidString:)),
            dateCreated: StorageCoding.date(microseconds: row.int(24) ?? 0),
            dateModified: row.int(25).map(StorageCoding.date(microseconds:)),
            dateValidated: row.int(26).map(StorageCoding.date(microseconds:)),
            dateRestricted: row.int(27).map(StorageCoding.date(microseconds:)),
            version: row.int(28).map { Int($0) } ?? 1)
    }
}

/// A row's values by position, copied out once and read without GRDB's generic decoding. Values are read
/// as SQLite stores them; a value of another storage class reads as GRDB would convert it (a whole REAL as
/// an integer, an integer as a boolean, a UTF-8 BLOB as text) or as nil.
struct RowValues {
    private let values: [DatabaseValue]

    init(_ row: Row) { values = Array(row.databaseValues) }

    var count: Int { values.count }

    func int(_ index: Int) -> Int64? {
        switch values[index].storage {
        case .int64(let value): value
        case .double(let value): Int64(exactly: value)
        default: nil
        }
    }

    func string(_ index: Int) -> String? {
        switch values[index].storage {
        case .string(let value): value
        case .blob(let data): String(data: data, encoding: .utf8)
        default: nil
        }
    }

    func bool(_ index: Int) -> Bool? {
        switch values[index].storage {
        case .int64(let value): value != 0
        case .double(let value): value != 0
        default: nil
        }
    }
}

enum DeviceRow {
    /// Reads a row of `SELECT \(DeviceColumns.all)` (further columns may follow) by position.
    static func decode(_ row: Row) throws -> Device {
        try decode(RowValues(row))
    }

    static func decode(_ row: RowValues) throws -> Device {
        let typeText = row.string(3) ?? ""
        guard let type = DeviceType(rawValue: typeText) else {
            throw StorageCodingError(what: "device type", value: typeText)
        }
        return Device(
            id: DeviceID(row.int(0) ?? 0),
            organizationID: OrganizationID(row.int(1) ?? 0),
            name: row.string(2) ?? "", type: type, timeZone: row.string(4), location: row.string(5),
            remarks: row.string(6), carouselImageURL: row.string(7), model: row.string(8),
            actualFirmwareVersion: row.int(9).map { Int($0) }, requiredFirmwareVersion: row.int(10).map { Int($0) },
            gatewayID: row.int(11).map { DeviceID($0) },
            dateDecommissioned: row.int(12).map(StorageCoding.date(microseconds:)), installed: row.bool(13) ?? true,
            batteryLevel: row.string(14).flatMap(BatteryLevel.init(rawValue:)),
            batteryLastMeasurement: row.int(15).map(StorageCoding.date(microseconds:)),
            activationTime: row.int(16).map { Int($0) } ?? Device.defaultActivationTime,
            controller: row.bool(19) ?? false, dateCreated: StorageCoding.date(microseconds: row.int(17) ?? 0),
            dateModified: row.int(18).map(StorageCoding.date(microseconds:)))
    }
}
