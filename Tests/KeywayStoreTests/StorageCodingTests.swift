import Foundation
import KeywayCore
import KeywaySQL
import Testing

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
