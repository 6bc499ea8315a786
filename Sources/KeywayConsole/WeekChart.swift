import Foundation
import KeywayCore

/// "Who can open this door this week": for each share reaching a lock, the stretches of one week (Monday 00:00 to
/// the next Monday 00:00 in the lock's zone) in which the access evaluator finds it in force, one row per person
/// or group. Positions are fractions of the week's real length, so a week with a daylight-saving change is 167 or
/// 169 hours wide and every bar still sits at its wall-clock hour.
public struct WeekChart: Sendable {
    public struct Bar: Sendable, Equatable {
        public var start: Date
        public var end: Date
        public var shareID: ShareID
    }

    public struct Row: Sendable {
        public var label: String
        public var receiver: ShareReceiver
        public var bars: [Bar]
        public var shares: [ShareID]
    }

    public var weekStart: Date
    public var weekEnd: Date
    /// Each local midnight of the week (eight of them, both ends included).
    public var midnights: [Date]
    public var rows: [Row]
    public var zone: TimeZone

    /// At most this many in-force stretches per share are drawn (a share of fifteen-minute slots every day of the
    /// week has 7 × 96); more would not be readable anyway.
    static let maximumBarsPerShare = 700

    /// The week holding `instant` in `zone`, with the bars of `shares` (those reaching the lock).
    public static func build(
        shares: [Share], names: (ShareReceiver) -> String, containing instant: Date, zone: TimeZone
    ) -> WeekChart {
        let reading = AccessEvaluator.localReading(of: instant, in: zone)
        let weekday = AccessEvaluator.weekday(of: reading.date)
        let offset = DayOfWeek.allCases.firstIndex(of: weekday) ?? 0
        let monday = reading.date.adding(days: -offset)
        let midnights = (0...7).map { LocalDateTime(date: monday.adding(days: $0), time: .midnight).instant(in: zone) }
        let start = midnights[0]
        let end = midnights[7]
        var rows: [ShareReceiver: Row] = [:]
        var order: [ShareReceiver] = []
        for share in shares {
            let bars = stretches(of: share, from: start, to: end, zone: zone)
            if rows[share.receiver] == nil {
                order.append(share.receiver)
                rows[share.receiver] = Row(label: names(share.receiver), receiver: share.receiver, bars: [], shares: [])
            }
            rows[share.receiver]?.bars += bars
            rows[share.receiver]?.shares.append(share.id)
        }
        return WeekChart(
            weekStart: start, weekEnd: end, midnights: midnights, rows: order.compactMap { rows[$0] }, zone: zone)
    }

    /// The stretches of [from, to) in which `share` is in force, by the evaluator's own standing and next change.
    static func stretches(of share: Share, from start: Date, to end: Date, zone: TimeZone) -> [Bar] {
        var bars: [Bar] = []
        var cursor = start
        var inForce = AccessEvaluator.standing(of: share, at: cursor, zone: zone) == .inForce
        while cursor < end, bars.count < maximumBarsPerShare {
            let next = AccessEvaluator.nextChange(of: share, after: cursor, zone: zone).map { min($0, end) } ?? end
            guard next > cursor else { break }
            if inForce { bars.append(Bar(start: cursor, end: next, shareID: share.id)) }
            cursor = next
            inForce = AccessEvaluator.standing(of: share, at: cursor, zone: zone) == .inForce
        }
        return bars
    }

    /// Where `instant` falls on the week, from 0 to 1.
    public func position(_ instant: Date) -> Double {
        let length = weekEnd.timeIntervalSince(weekStart)
        guard length > 0 else { return 0 }
        return min(1, max(0, instant.timeIntervalSince(weekStart) / length))
    }
}
