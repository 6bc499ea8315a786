import Foundation
import KeywayCore
import KeywaySQL
import Testing

@testable import KeywayStoreSQLite

/// How both stores write a value into a column (moved with the coding from KeywayCore to KeywaySQL).
@Suite("Storage coding")
struct StorageCodingTests {
    @Test func schedulesSurviveTheirStorageEncoding() throws {
        let schedule = [
            ScheduleEntry(dayOfWeek: nil, period: nil, recurrence: .daily),
            ScheduleEntry(
                dayOfWeek: .sunday, period: Period(startTime: LocalTime("22:00:00")!, endTime: LocalTime("02:00:00")!),
                recurrence: .biWeekly),
        ]
        #expect(try StorageCoding.decodeSchedule(StorageCoding.encode(schedule)) == schedule)
        #expect(throws: (any Error).self) { try StorageCoding.decodeSchedule("{\"not\": \"a list\"}") }
    }

    @Test func aSearchPatternTakesStarAsWildcardAndEverythingElseLiterally() {
        #expect(SQLDialect.likePattern("a*b") == "%a%b%")
        #expect(SQLDialect.likePattern("50%_\\") == "%50\\%\\_\\\\%")
    }
}

/// The JSON arrays SQLite's `json_each(?)` reads a list of texts from (every request's revision check binds one),
/// written by hand: they read back as the same texts, whatever characters those hold.
@Suite("SQLite's JSON lists")
struct SQLiteJSONListTests {
    @Test func textsComeBackAsTheyWent() throws {
        var control = ""
        for scalar in 0..<0x20 { control.unicodeScalars.append(Unicode.Scalar(UInt8(scalar))) }
        let lists: [[String]] = [
            [], [""], ["o:1", "a:22"], [#"quote " and \ backslash"#, "slash / é 漢字 🚪 \u{2028}", control, "\u{7F}"],
        ]
        for list in lists {
            let written = KeywayStoreSQLite.jsonArray(list)
            #expect(try JSONDecoder().decode([String].self, from: Data(written.utf8)) == list, "\(written)")
        }
        #expect(KeywayStoreSQLite.jsonArray(["o:1", "a:2"]) == #"["o:1","a:2"]"#)
    }
}
