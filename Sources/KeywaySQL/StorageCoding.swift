import Foundation
import KeywayCore

/// Storage-neutral encodings shared by every backend, so that SQLite and PostgreSQL store the same text.
public enum StorageCoding {
    /// A schedule as compact JSON in Bold's own shape.
    public static func encode(_ schedule: [ScheduleEntry]) -> String {
        let objects: [[String: Any]] = schedule.map { entry in
            var object: [String: Any] = ["recurrence": entry.recurrence.rawValue]
            if let day = entry.dayOfWeek { object["dayOfWeek"] = day.rawValue }
            if let period = entry.period {
                object["period"] = ["startTime": period.startTime.description, "endTime": period.endTime.description]
            }
            return object
        }
        guard let data = try? JSONSerialization.data(withJSONObject: objects, options: [.sortedKeys]) else {
            return "[]"
        }
        return String(decoding: data, as: UTF8.self)
    }

    /// Reads what `encode` wrote. Throws `StorageCodingError` for text no version of Keyway writes.
    public static func decodeSchedule(_ text: String) throws -> [ScheduleEntry] {
        guard let objects = try JSONSerialization.jsonObject(with: Data(text.utf8)) as? [[String: Any]] else {
            throw StorageCodingError(what: "schedule", value: text)
        }
        return try objects.map { object in
            guard let recurrence = (object["recurrence"] as? String).flatMap(Recurrence.init(rawValue:)) else {
                throw StorageCodingError(what: "schedule recurrence", value: text)
            }
            var period: Period?
            if let raw = object["period"] as? [String: String] {
                guard let start = raw["startTime"].flatMap(LocalTime.init),
                    let end = raw["endTime"].flatMap(LocalTime.init)
                else { throw StorageCodingError(what: "schedule period", value: text) }
                period = Period(startTime: start, endTime: end)
            }
            let day = (object["dayOfWeek"] as? String).flatMap(DayOfWeek.init(rawValue:))
            return ScheduleEntry(dayOfWeek: day, period: period, recurrence: recurrence)
        }
    }

    public static func encode(_ scopes: Set<Scope>) -> String {
        scopes.sorted().map(\.rawValue).joined(separator: " ")
    }

    public static func decodeScopes(_ text: String) -> Set<Scope> {
        Set(text.split(separator: " ").compactMap { Scope(rawValue: String($0)) })
    }

    /// Instants are stored as whole microseconds since 1970, the precision Bold's timestamps show.
    public static func microseconds(_ date: Date) -> Int64 { date.microsecondsSince1970 }

    public static func date(microseconds: Int64) -> Date { Date(microsecondsSince1970: microseconds) }
}

/// A stored value no version of Keyway writes: a corrupt or foreign database.
public struct StorageCodingError: Error, CustomStringConvertible {
    public var what: String
    public var value: String
    public init(what: String, value: String) {
        self.what = what
        self.value = value
    }
    public var description: String { "cannot read stored \(what): \(value)" }
}
