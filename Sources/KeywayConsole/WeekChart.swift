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
    /// Whether `maximumBars` cut the drawing short.
    public var truncated = false

    /// At most this many in-force stretches per share are drawn (a share of fifteen-minute slots every day of the
    /// week has 7 × 96); more would not be readable anyway.
    static let maximumBarsPerShare = 700
    /// At most this many stretches in all, and this many shares (the page says when there were more).
    public static let maximumBars = 5_000
    public static let maximumShares = 300

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
        var drawn = 0
        var truncated = false
        for share in shares.prefix(maximumShares) {
            guard drawn < maximumBars else {
                truncated = true
                break
            }
            let bars = Array(stretches(of: share, from: start, to: end, zone: zone).prefix(maximumBars - drawn))
            drawn += bars.count
            if rows[share.receiver] == nil {
                order.append(share.receiver)
                rows[share.receiver] = Row(label: names(share.receiver), receiver: share.receiver, bars: [], shares: [])
            }
            rows[share.receiver]?.bars += bars
            rows[share.receiver]?.shares.append(share.id)
        }
        return WeekChart(
            weekStart: start, weekEnd: end, midnights: midnights, rows: order.compactMap { rows[$0] }, zone: zone,
            truncated: truncated || shares.count > maximumShares)
    }

    /// The stretches of [from, to) in which `share` is in force, by the evaluator's own standing and next change.
    static func stretches(of share: Share, from start: Date, to end: Date, zone: TimeZone) -> [Bar] {
        AccessEvaluator.inForceStretches(of: share, from: start, to: end, zone: zone, limit: maximumBarsPerShare).map {
            Bar(start: $0.lowerBound, end: $0.upperBound, shareID: share.id)
        }
    }

    /// Where `instant` falls on the week, from 0 to 1.
    public func position(_ instant: Date) -> Double {
        let length = weekEnd.timeIntervalSince(weekStart)
        guard length > 0 else { return 0 }
        return min(1, max(0, instant.timeIntervalSince(weekStart) / length))
    }
}
