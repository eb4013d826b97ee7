"""Clerk's official Python SDK (`clerk-backend-api`) against clerk-mock: one call per row,
across tags, each decoded by the SDK's own models. Run by `.ci/python-sdk-check`, which
installs the SDK and starts the mock; the argument is the mock's base URL (`.../v1`).

Exit status 0 when every call succeeds; otherwise the failures are listed and it is 1.
"""

import sys
import warnings

from clerk_backend_api import Clerk

# The SDK marks a few operations deprecated (the client list, SAML connections); they still
# answer, and the check still calls them.
warnings.simplefilter("ignore", DeprecationWarning)


def main(server_url: str) -> int:
    results = []

    def check(name, call):
        try:
            value = call()
            results.append((name, True, type(value).__name__))
            return value
        except Exception as e:  # the SDK's own errors and decoding failures alike
            results.append((name, False, f"{type(e).__name__}: {e}"[:300]))
            return None

    with Clerk(bearer_auth="sk_test_python_sdk_check", server_url=server_url) as clerk:
        # Stateful in the mock: the allow-list, the block-list, the restrictions, users.
        created = check(
            "allowlist_identifiers.create",
            lambda: clerk.allowlist_identifiers.create(
                request={"identifier": "ada@example.com", "notify": False}
            ),
        )
        check("allowlist_identifiers.list", lambda: clerk.allowlist_identifiers.list())
        if created is not None:
            check(
                "allowlist_identifiers.delete",
                lambda: clerk.allowlist_identifiers.delete(identifier_id=created.id),
            )
        blocked = check(
            "blocklist_identifiers.create",
            lambda: clerk.blocklist_identifiers.create(
                request={"identifier": "mallory@example.com"}
            ),
        )
        check("blocklist_identifiers.list", lambda: clerk.blocklist_identifiers.list())
        if blocked is not None:
            check(
                "blocklist_identifiers.delete",
                lambda: clerk.blocklist_identifiers.delete(identifier_id=blocked.id),
            )
        check(
            "instance_settings.update_restrictions",
            lambda: clerk.instance_settings.update_restrictions(request={"allowlist": True}),
        )
        user = check(
            "users.create",
            lambda: clerk.users.create(email_address=["grace@example.com"], first_name="Grace"),
        )
        check("users.list", lambda: clerk.users.list(request={"limit": 5}))
        check("users.count", lambda: clerk.users.count(request={}))
        if user is not None:
            check("users.get", lambda: clerk.users.get(user_id=user.id))
            check(
                "users.update",
                lambda: clerk.users.update(user_id=user.id, last_name="Hopper"),
            )
            check(
                "users.update_metadata",
                lambda: clerk.users.update_metadata(
                    user_id=user.id, public_metadata={"plan": "pro"}
                ),
            )
            check("users.ban", lambda: clerk.users.ban(user_id=user.id))
            check("users.unban", lambda: clerk.users.unban(user_id=user.id))
            check("users.delete", lambda: clerk.users.delete(user_id=user.id))
        # Answered from the spec: a list and a read or a create per tag.
        check("jwks.get_jwks", lambda: clerk.jwks.get_jwks())
        check("sessions.list", lambda: clerk.sessions.list(limit=2))
        check("sessions.get", lambda: clerk.sessions.get(session_id="sess_1"))
        check("clients.list", lambda: clerk.clients.list(limit=2))
        check("invitations.list", lambda: clerk.invitations.list(limit=2))
        check(
            "invitations.create",
            lambda: clerk.invitations.create(request={"email_address": "new@example.com"}),
        )
        check("organizations.list", lambda: clerk.organizations.list(limit=2))
        check(
            "organizations.create",
            lambda: clerk.organizations.create(request={"name": "Acme"}),
        )
        check(
            "organizations.get",
            lambda: clerk.organizations.get(organization_id="org_1"),
        )
        check(
            "organization_memberships.list",
            lambda: clerk.organization_memberships.list(organization_id="org_1"),
        )
        check(
            "organization_invitations.list",
            lambda: clerk.organization_invitations.list(organization_id="org_1"),
        )
        check("jwt_templates.list", lambda: clerk.jwt_templates.list())
        check("redirect_urls.list", lambda: clerk.redirect_urls.list())
        check("domains.list", lambda: clerk.domains.list())
        check("email_addresses.get", lambda: clerk.email_addresses.get(email_address_id="idn_1"))
        check("phone_numbers.get", lambda: clerk.phone_numbers.get(phone_number_id="idn_1"))
        check("oauth_applications.list", lambda: clerk.oauth_applications.list())
        check("saml_connections.list", lambda: clerk.saml_connections.list())
        check("waitlist_entries.list", lambda: clerk.waitlist_entries.list(limit=2))
        check(
            "sign_in_tokens.create",
            lambda: clerk.sign_in_tokens.create(request={"user_id": "user_1"}),
        )
        check("actor_tokens.create", lambda: clerk.actor_tokens.create(request={
            "user_id": "user_1", "actor": {"sub": "user_2"},
        }))
        check("machines.list", lambda: clerk.machines.list())
        check("testing_tokens.create", lambda: clerk.testing_tokens.create())

    failed = [r for r in results if not r[1]]
    for name, ok, detail in results:
        print(f"{'ok  ' if ok else 'FAIL'} {name}: {detail}")
    print(f"{len(results) - len(failed)} of {len(results)} calls succeeded")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
