import Foundation
import KeywayCore
import OpenAPIRuntime

/// Writes instants as Bold does, UTC with `Z` and six fractional digits (`2026-03-10T09:33:38.112874Z`),
/// and reads any ISO 8601 date-time with an offset.
struct MicrosecondDateTranscoder: DateTranscoder {
    func encode(_ date: Date) throws -> String { MicrosecondDateTranscoder.format(date) }

    func decode(_ text: String) throws -> Date {
        if let date = try? Date(text, strategy: Date.ISO8601FormatStyle(includingFractionalSeconds: true)) {
            return date
        }
        if let date = try? Date(text, strategy: Date.ISO8601FormatStyle()) { return date }
        throw DecodingError.dataCorrupted(
            .init(codingPath: [], debugDescription: Self.rejectionPrefix + text + Self.rejectionSuffix))
    }

    private static let rejectionPrefix = "Not an ISO 8601 date-time with an offset: «"
    private static let rejectionSuffix = "»"

    /// The text a decoding failure of this transcoder refused, read back from its description.
    static func rejectedText(in description: String) -> String? {
        guard let start = description.range(of: rejectionPrefix),
            let end = description.range(of: rejectionSuffix, options: .backwards), start.upperBound <= end.lowerBound
        else { return nil }
        return String(description[start.upperBound..<end.lowerBound])
    }

    static func format(_ date: Date) -> String {
        let micros = date.microsecondsSince1970
        let seconds = micros >= 0 ? micros / 1_000_000 : (micros - 999_999) / 1_000_000
        let fraction = micros - seconds * 1_000_000
        let days = seconds >= 0 ? seconds / 86_400 : (seconds - 86_399) / 86_400
        let secondOfDay = Int(seconds - days * 86_400)
        let day = LocalDate(daysSinceEpoch: Int(days))
        let fractionText = String(fraction)
        return "\(day)T\(two(secondOfDay / 3600)):\(two(secondOfDay / 60 % 60)):\(two(secondOfDay % 60))."
            + String(repeating: "0", count: 6 - fractionText.count) + fractionText + "Z"
    }

    private static func two(_ value: Int) -> String { value < 10 ? "0\(value)" : String(value) }
}
