"""A client generated from the served document by openapi-python-client lists, creates and
deletes a row through the demo server.

Usage: client_smoke.py CLIENT_DIR BASE_URL TOKEN PROJECT
"""

import sys


def main() -> int:
    client_dir, base, token, project = sys.argv[1:]
    sys.path.insert(0, client_dir)
    from project_database_api_client import AuthenticatedClient
    from project_database_api_client.api.data_point import (
        data_point_create,
        data_point_destroy,
        data_point_list,
        data_point_retrieve,
    )
    from project_database_api_client.models import DataPointRequest

    client = AuthenticatedClient(base_url=f"{base}/api/v1", token=token, prefix="Token")
    before = data_point_list.sync(project, client=client, page_size=1000)
    assert before is not None, "the list answered"
    names = [row.name for row in before.results]
    print(f"client: listed {before.count} data points: {names}")

    created = data_point_create.sync(
        project, client=client, body=DataPointRequest(name="client/smoke", unit="kWh")
    )
    assert created is not None and created.name == "client/smoke", created
    print(f"client: created data point {created.id}")
    fetched = data_point_retrieve.sync(project, created.id, client=client)
    assert fetched is not None and fetched.unit == "kWh", fetched

    deleted = data_point_destroy.sync_detailed(project, created.id, client=client)
    assert deleted.status_code == 204, deleted
    gone = data_point_retrieve.sync_detailed(project, created.id, client=client)
    assert gone.status_code == 404, gone
    after = data_point_list.sync(project, client=client, page_size=1000)
    assert after is not None and after.count == before.count, (before.count, after)
    print(f"client: deleted it; {after.count} data points again")
    return 0


if __name__ == "__main__":
    sys.exit(main())
