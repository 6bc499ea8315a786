import Foundation
import GRDB
import KeywayCore
import KeywaySQL

// OAuth clients (redirect URIs as a JSON array of strings) and their authorization codes.

extension SQLiteStore {
    public func insertOAuthClient(_ client: OAuthClient, replacing: Bool) async throws {
        let uris = String(decoding: try JSONEncoder().encode(client.redirectURIs), as: UTF8.self)
        try await writing { db in
            if replacing {
                try db.run(sql: "DELETE FROM oauth_clients WHERE id = ?", arguments: [client.id])
            }
            try db.run(
                sql: """
                    INSERT INTO oauth_clients (id, secret_hash, redirect_uris, name, date_created) VALUES (?, ?, ?, ?, ?)
                    ON CONFLICT (id) DO NOTHING
                    """,
                arguments: [
                    client.id, client.secretHash.map { Data($0) }, uris, client.name,
                    StorageCoding.microseconds(client.dateCreated),
                ])
            guard db.changesCount == 1 else {
                throw DomainError.oauthClientExists
            }
        }
    }

    public func oauthClient(id: String) async throws -> OAuthClient? {
        try await reading { db in
            try Row.fetchOne(
                try db.cachedStatement(
                    sql: "SELECT id, secret_hash, redirect_uris, name, date_created FROM oauth_clients WHERE id = ?"),
                arguments: [id]
            ).map(Self.oauthClient)
        }
    }

    public func oauthClients() async throws -> [OAuthClient] {
        try await reading { db in
            try Row.fetchAll(
                try db.cachedStatement(
                    sql: "SELECT id, secret_hash, redirect_uris, name, date_created FROM oauth_clients ORDER BY id")
            ).map(Self.oauthClient)
        }
    }

    private static func oauthClient(_ row: Row) throws -> OAuthClient {
        let uris = try JSONDecoder().decode([String].self, from: Data((row["redirect_uris"] as String? ?? "[]").utf8))
        return OAuthClient(
            id: row["id"] ?? "", secretHash: (row["secret_hash"] as Data?).map { [UInt8]($0) }, redirectURIs: uris,
            name: row["name"], dateCreated: StorageCoding.date(microseconds: row["date_created"] ?? 0))
    }

    public func deleteOAuthClient(id: String) async throws -> Bool {
        try await writing { db in
            try db.run(sql: "DELETE FROM oauth_clients WHERE id = ?", arguments: [id])
            return db.changesCount == 1
        }
    }

    public func insertAuthorizationCode(_ code: AuthorizationCode) async throws {
        try await writing { db in
            try db.run(
                sql: "DELETE FROM oauth_codes WHERE expires < ?",
                arguments: [StorageCoding.microseconds(code.dateCreated.addingTimeInterval(-86_400))])
            try db.run(
                sql: """
                    INSERT INTO oauth_codes (hash, client_id, redirect_uri, account_id, code_challenge, family, expires,
                        date_created) VALUES (?, ?, ?, ?, ?, ?, ?, ?)
                    """,
                arguments: [
                    Data(code.hash), code.clientID, code.redirectURI, code.accountID.rawValue, code.codeChallenge,
                    code.family.uuidString, StorageCoding.microseconds(code.expires),
                    StorageCoding.microseconds(code.dateCreated),
                ])
        }
    }

    public func authorizationCode(hash: [UInt8]) async throws -> AuthorizationCode? {
        try await reading { db in
            guard
                let row = try Row.fetchOne(
                    try db.cachedStatement(
                        sql: """
                            SELECT id, hash, client_id, redirect_uri, account_id, code_challenge, family, expires,
                                date_created, date_used
                            FROM oauth_codes WHERE hash = ?
                            """), arguments: [Data(hash)]),
                let family = UUID(uuidString: row["family"] ?? "")
            else { return nil }
            return AuthorizationCode(
                id: row["id"] ?? 0, hash: [UInt8](row["hash"] as Data? ?? Data()), clientID: row["client_id"] ?? "",
                redirectURI: row["redirect_uri"] ?? "", accountID: AccountID(row["account_id"] as Int64? ?? 0),
                codeChallenge: row["code_challenge"], family: family,
                expires: StorageCoding.date(microseconds: row["expires"] ?? 0),
                dateCreated: StorageCoding.date(microseconds: row["date_created"] ?? 0),
                dateUsed: (row["date_used"] as Int64?).map(StorageCoding.date(microseconds:)))
        }
    }

    public func redeemAuthorizationCode(id: Int64, at date: Date, issuing tokens: [IssuedToken]) async throws -> Bool {
        try await writing { db in
            try db.run(
                sql: "UPDATE oauth_codes SET date_used = ? WHERE id = ? AND date_used IS NULL",
                arguments: [StorageCoding.microseconds(date), id])
            guard db.changesCount == 1 else { return false }
            try Self.insert(tokens, db)
            return true
        }
    }
}
