import Foundation
import KeywayCore
import KeywayTestSupport
import Testing

@Suite("Local dates and times")
struct LocalDateTimeTests {
    @Test(arguments: [
        "2026-02-30", "2027-02-29", "2026-13-01", "2026-00-10", "2026-04-31", "26-03-10", "2026-3-10",
        "2026-03-10T00:00:00", "２０２６-03-10", "", "2026/03/10", "0000-01-01",
    ])
    func refusesWhatIsNotARealDate(_ text: String) {
        #expect(LocalDate(text) == nil)
    }

    @Test(arguments: ["2024-02-29", "2000-02-29", "2026-12-31", "2026-01-01", "9999-12-31", "0001-01-01"])
    func readsAndWritesRealDates(_ text: String) throws {
        let date = try #require(LocalDate(text))
        #expect(date.description == text)
        #expect(LocalDate(daysSinceEpoch: date.daysSinceEpoch) == date)
    }

    @Test func centuriesAreLeapOnlyEveryFourHundredYears() {
        #expect(LocalDate("1900-02-29") == nil)
        #expect(LocalDate("2100-02-29") == nil)
        #expect(LocalDate("2000-02-29") != nil)
    }

    @Test func daysSinceEpochCountsFrom1970() {
        #expect(LocalDate("1970-01-01")?.daysSinceEpoch == 0)
        #expect(LocalDate("2026-03-10")?.daysSinceEpoch == 20522)
        #expect(LocalDate("1969-12-31")?.daysSinceEpoch == -1)
        #expect(LocalDate("2024-02-28")?.adding(days: 1).description == "2024-02-29")
        #expect(LocalDate("2026-12-31")?.adding(days: 1).description == "2027-01-01")
    }

    @Test(arguments: ["24:00:00", "23:60:00", "23:59:60", "9:00:00", "09:00", "09:00:00.5", "-1:00:00", "ab:cd:ef"])
    func refusesWhatIsNotATime(_ text: String) {
        #expect(LocalTime(text) == nil)
    }

    @Test func timesRoundTripAndOrder() throws {
        let early = try #require(LocalTime("00:00:00"))
        let late = try #require(LocalTime("23:59:59"))
        #expect(early == .midnight)
        #expect(late.description == "23:59:59")
        #expect(early < late)
        #expect(late.secondsSinceMidnight == 86_399)
    }

    @Test func aWallClockReadingIsPlacedInItsZoneAcrossDaylightSaving() throws {
        let amsterdam = try #require(TimeZone(identifier: "Europe/Amsterdam"))
        let winter = LocalDateTime(date: LocalDate("2026-03-15")!, time: LocalTime("09:35:38")!)
        #expect(winter.instant(in: amsterdam) == Date(timeIntervalSince1970: 1_773_563_738))  // 08:35:38Z
        let summer = LocalDateTime(date: LocalDate("2026-07-01")!, time: LocalTime("12:00:00")!)
        #expect(summer.instant(in: amsterdam) == Date(timeIntervalSince1970: 1_782_900_000))  // 10:00:00Z
    }
}

@Suite("Paging, scopes and secrets")
struct SmallRulesTests {
    @Test func pagesDefaultTo50AndRefuseSizesOutside1To100() throws {
        let page = try Page(offset: nil, size: nil)
        #expect(page.offset == 0 && page.size == 50)
        #expect(try Page(offset: 3, size: 100).size == 100)
        #expect(throws: DomainError.self) { try Page(offset: 0, size: 0) }
        #expect(throws: DomainError.self) { try Page(offset: 0, size: 101) }
        #expect(throws: DomainError.self) { try Page(offset: -1, size: 10) }
    }

    @Test func scopeListsParseAndNameTheBadOne() throws {
        #expect(try Scope.parseList("read,manage") == [.read, .manage])
        #expect(try Scope.parseList("events activate") == [.events, .activate])
        #expect(
            throws: DomainError.invalidInput(
                field: "scope", "scope: unknown scope 'admin'; expected read, manage, activate, events")
        ) {
            try Scope.parseList("read,admin")
        }
        #expect(throws: DomainError.self) { try Scope.parseList("") }
    }

    @Test func constantTimeEqualsComparesWholeValues() {
        #expect(constantTimeEquals([1, 2, 3], [1, 2, 3]))
        #expect(!constantTimeEquals([1, 2, 3], [1, 2, 4]))
        #expect(!constantTimeEquals([1, 2, 3], [1, 2]))
        #expect(constantTimeEquals([], []))
    }

    @Test func instantsKeepMicrosecondPrecision() {
        let date = FixedTime().now()
        let micros = date.microsecondsSince1970
        #expect(micros == 1_773_135_218_112_874)
        #expect(Date(microsecondsSince1970: micros).microsecondsSince1970 == micros)
    }
}
