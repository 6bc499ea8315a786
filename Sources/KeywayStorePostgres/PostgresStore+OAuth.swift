import Foundation
import KeywayCore
import KeywaySQL

// OAuth clients and their authorization codes: the SQLite store's SQL, translated.

extension PostgresStore {
    public func insertOAuthClient(_ client: OAuthClient, replacing: Bool) async throws {
        let uris = String(decoding: try JSONEncoder().encode(client.redirectURIs), as: UTF8.self)
        try await writing { db in
            if replacing { try await db.execute("DELETE FROM oauth_clients WHERE id = ?", [client.id]) }
            guard
                try await db.count(
                    """
                    INSERT INTO oauth_clients (id, secret_hash, redirect_uris, name, date_created) VALUES (?, ?, ?, ?, ?)
                    ON CONFLICT (id) DO NOTHING RETURNING id
                    """,
                    [
                        client.id, client.secretHash.map(Bytes.init), uris, client.name,
                        StorageCoding.microseconds(client.dateCreated),
                    ]) == 1
            else { throw DomainError.oauthClientExists }
        }
    }

    public func oauthClient(id: String) async throws -> OAuthClient? {
        try await reading { db in
            try await db.query(
                "SELECT id, secret_hash, redirect_uris, name, date_created FROM oauth_clients WHERE id = ?", [id]
            ).first.map(Self.oauthClient)
        }
    }

    public func oauthClients() async throws -> [OAuthClient] {
        try await reading { db in
            try await db.query(
                "SELECT id, secret_hash, redirect_uris, name, date_created FROM oauth_clients ORDER BY id COLLATE \"C\""
            ).map(Self.oauthClient)
        }
    }

    private static func oauthClient(_ row: SQLRow) throws -> OAuthClient {
        let uris = try JSONDecoder().decode([String].self, from: Data((try row.text("redirect_uris") ?? "[]").utf8))
        return OAuthClient(
            id: try row.text("id") ?? "", secretHash: try row.bytes("secret_hash"), redirectURIs: uris,
            name: try row.text("name"), dateCreated: try row.requiredDate("date_created"))
    }

    public func deleteOAuthClient(id: String) async throws -> Bool {
        try await writing { db in
            try await db.count("DELETE FROM oauth_clients WHERE id = ? RETURNING id", [id]) == 1
        }
    }

    public func insertAuthorizationCode(_ code: AuthorizationCode) async throws {
        try await writing { db in
            try await db.execute(
                "DELETE FROM oauth_codes WHERE expires < ?",
                [StorageCoding.microseconds(code.dateCreated.addingTimeInterval(-86_400))])
            try await db.execute(
                """
                INSERT INTO oauth_codes (hash, client_id, redirect_uri, account_id, code_challenge, family, expires,
                    date_created) VALUES (?, ?, ?, ?, ?, ?, ?, ?)
                """,
                [
                    Bytes(code.hash), code.clientID, code.redirectURI, code.accountID.rawValue, code.codeChallenge,
                    code.family.uuidString, StorageCoding.microseconds(code.expires),
                    StorageCoding.microseconds(code.dateCreated),
                ])
        }
    }

    public func authorizationCode(hash: [UInt8]) async throws -> AuthorizationCode? {
        try await reading { db in
            guard
                let row = try await db.query(
                    """
                    SELECT id, hash, client_id, redirect_uri, account_id, code_challenge, family, expires, date_created,
                        date_used
                    FROM oauth_codes WHERE hash = ?
                    """, [Bytes(hash)]
                ).first,
                let family = UUID(uuidString: try row.text("family") ?? "")
            else { return nil }
            return AuthorizationCode(
                id: try row.requiredInt("id"), hash: try row.bytes("hash") ?? [],
                clientID: try row.text("client_id") ?? "",
                redirectURI: try row.text("redirect_uri") ?? "",
                accountID: AccountID(try row.requiredInt("account_id")),
                codeChallenge: try row.text("code_challenge"), family: family, expires: try row.requiredDate("expires"),
                dateCreated: try row.requiredDate("date_created"), dateUsed: try row.date("date_used"))
        }
    }

    public func redeemAuthorizationCode(id: Int64, at date: Date, issuing tokens: [IssuedToken]) async throws -> Bool {
        try await writing { db in
            guard
                try await db.count(
                    "UPDATE oauth_codes SET date_used = ? WHERE id = ? AND date_used IS NULL RETURNING id",
                    [StorageCoding.microseconds(date), id]) == 1
            else { return false }
            try await Self.insert(tokens, db)
            return true
        }
    }
}
