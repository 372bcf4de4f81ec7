"""Pins the simulator to the documented Vantagepoint facts; each test cites deltek-api.md."""

from __future__ import annotations

import json
from decimal import Decimal

from simulators.common.faults import FaultInjector
from simulators.deltek import Credentials, SeedOptions, SimOptions
from simulators.deltek.state import SimState
from simulators.deltek.store import Store
from tests.integration.deltek.conftest import SMALL_SEED, Sim, SimFactory


def active_vendor(sim: Sim) -> str:
    return next(
        str(f["Vendor"])
        for f in sim.state.store.firms.values()
        if f["VendorInd"] == "Y" and f["Status"] == "A"
    )


def voucher(batch: str, vendor: str, **master: object) -> dict[str, object]:
    head = {
        "MasterPKey": f"{batch}-m", "Vendor": vendor, "Invoice": "INV-1",
        "InvoiceDate": "2026-06-03T00:00:00.000", "TransDate": "2026-06-05T00:00:00.000",
        "LiabCode": "Trade", "BankCode": "OPER", "PayTerms": "Next", **master,
    }  # fmt: skip
    line = {"MasterPKey": f"{batch}-m", "PKey": f"{batch}-d", "Seq": 1, "Amount": "1850.10",
            "Account": "642.00"}  # fmt: skip
    return {"Batch": batch, "Period": 202606, "apMaster": [head], "apDetail": [line]}


async def test_token_password_grant_shape_and_case_insensitive_fields(sim: Sim) -> None:
    """§1.1: form fields match case-insensitively, Integrated is optional, and the answer has
    access_token, token_type "bearer", expires_in (seconds, int) and refresh_token."""
    for form in (
        {"Username": "U", "Password": "P", "grant_type": "password", "Integrated": "N",
         "database": "D", "Client_Id": "C", "client_secret": "S"},
        {"username": "U", "password": "P", "grant_type": "password", "client_id": "C"},
    ):  # fmt: skip
        async with sim.http.post(f"{sim.api}/token", data=form) as response:
            body = await response.json()
        assert response.status == 200
        assert set(body) == {"access_token", "token_type", "expires_in", "refresh_token"}
        assert body["token_type"] == "bearer"
        assert body["expires_in"] == 1799


async def test_refresh_grant_rotates_and_keeps_shape(sim: Sim) -> None:
    """§1.2: the refresh grant answers the same shape; rotation is undocumented, so the simulator
    rotates by default and the old refresh token stops working."""
    login = {"username": "U", "password": "P", "grant_type": "password", "client_id": "C"}
    async with sim.http.post(f"{sim.api}/token", data=login) as response:
        first = await response.json()
    refresh = {"grant_type": "refresh_token", "refresh_token": first["refresh_token"],
               "client_id": "C", "database": "D", "client_secret": "S"}  # fmt: skip
    async with sim.http.post(f"{sim.api}/token", data=refresh) as response:
        second = await response.json()
    assert response.status == 200
    assert set(second) == set(first)
    assert second["refresh_token"] != first["refresh_token"]
    async with sim.http.post(f"{sim.api}/token", data=refresh) as response:
        assert response.status == 400
        assert (await response.json())["error"] == "invalid_grant"


async def test_token_failures_use_the_oauth_error_shape(start_sim: SimFactory) -> None:
    """§1.3 and §1.4: token refusals are {"error", "error_description"}; a strict simulator
    checks credentials and database, and can refuse the password grant altogether."""
    creds = Credentials()
    good = {"Username": creds.username, "Password": creds.password, "grant_type": "password",
            "database": creds.database, "Client_Id": creds.client_id,
            "client_secret": creds.client_secret}  # fmt: skip
    strict = await start_sim(SimOptions(strict_credentials=True, seed=SMALL_SEED))
    disabled = await start_sim(SimOptions(password_grant_enabled=False, seed=SMALL_SEED))
    cases = [
        (strict, {**good, "Password": "wrong"}, "invalid_grant"),
        (strict, {**good, "database": "OTHER_DB"}, "invalid_grant"),
        (strict, {**good, "client_secret": "wrong"}, "invalid_client"),
        (disabled, good, "unauthorized_client"),
    ]
    for sim, form, code in cases:
        async with sim.http.post(f"{sim.api}/token", data=form) as response:
            body = await response.json()
        assert response.status == 400
        assert body["error"] == code
        assert body["error_description"]
    async with strict.http.post(f"{strict.api}/token", data=good) as response:
        assert response.status == 200


async def test_missing_or_expired_token_is_401(sim: Sim) -> None:
    """§1.3: 401 when no valid token was provided, including once the token has expired
    (lifetime is a parameter, §1.1; here the fault plan sets it to zero)."""
    async with await sim.get("/firm", "not-a-token") as response:
        assert response.status == 401
        assert "Message" in await response.json()
    await sim.set_faults(token_ttl_seconds=0)
    token = await sim.token()
    async with await sim.get("/firm", token) as response:
        assert response.status == 401


async def test_firm_read_answers_an_array_and_create_answers_201_with_location(sim: Sim) -> None:
    """§2.1, §5, §6: GET /firm/{ClientID} is a bare array even for one record; POST answers
    201 with a Location header; numbers left out are autonumbered and zero-padded (§2.2)."""
    token = await sim.token()
    body = {"Name": "Summit Survey Supply LLC", "VendorInd": "Y", "ClientInd": "N",
            "CustCoupaSupplierID": "4711"}  # fmt: skip
    headers = {"Authorization": f"Bearer {token}"}
    async with sim.http.post(f"{sim.api}/firm", json=body, headers=headers) as response:
        created = await response.json()
        assert response.status == 201
        assert response.headers["Location"].endswith(created[0]["ClientID"])
    assert isinstance(created, list)
    assert len(created) == 1
    firm = created[0]
    assert len(firm["ClientID"]) == 32
    assert int(firm["ClientID"], 16) >= 0
    assert len(firm["Vendor"]) == 6
    assert firm["Vendor"].isdigit()
    assert firm["CustCoupaSupplierID"] == "4711"
    async with await sim.get(f"/firm/{firm['ClientID']}", token) as response:
        again = await response.json()
    assert isinstance(again, list)
    assert again[0]["Vendor"] == firm["Vendor"]


async def test_documented_firm_error_messages(sim: Sim) -> None:
    """§2.2, §2.3, §6: {"Message": ...} bodies with Deltek's texts, including the <BR/> join."""
    token = await sim.token()
    headers = {"Authorization": f"Bearer {token}"}
    existing = next(f for f in sim.state.store.firms.values() if f["Vendor"])
    cases = [
        ({"Name": "Dup", "Client": existing["Client"], "Vendor": existing["Vendor"],
          "VendorInd": "Y"},
         f"Firm Number already exists: {existing['Client']}.<BR/>"
         f"Vendor Number already exists: {existing['Vendor']}."),
        ({"Name": "X", "FirmID": "1"}, "Field FirmID does not exist."),
    ]  # fmt: skip
    for body, message in cases:
        async with sim.http.post(f"{sim.api}/firm", json=body, headers=headers) as response:
            assert response.status == 400
            assert await response.json() == {"Message": message}
    url = f"{sim.api}/firm/{existing['ClientID']}/address"
    async with sim.http.post(
        url, json={"Address": "Remit", "Country": "USA"}, headers=headers
    ) as r:
        assert r.status == 400
        assert await r.json() == {"Message": "Country Code USA does not exist."}


async def test_vendor_accounting_insert_rules(start_sim: SimFactory) -> None:
    """§2.1, §2.3: on a tenant that creates vendor accounting only on insert, read is 404 until
    the first insert via /vision/firm/VendorAccountingInfo; an empty Company fails; inserting
    over an existing row is a 500 NPE; PUT /firm VEAccounting updates it."""
    sim = await start_sim(SimOptions(vendor_accounting="on_insert", seed=SMALL_SEED))
    token = await sim.token()
    headers = {"Authorization": f"Bearer {token}"}
    store = sim.state.store
    firm = next(
        f for f in store.firms.values() if f["Vendor"] and f["ClientID"] not in store.ve_accounting
    )
    read_url = f"{sim.api}/firm/{firm['ClientID']}/vendorAccountingInfo"
    insert_url = f"{sim.url}/vision/firm/VendorAccountingInfo"
    async with sim.http.get(read_url, headers=headers) as response:
        assert response.status == 404
    row = {"Vendor": firm["Vendor"], "PayTerms": "Next", "Req1099": "Y"}
    async with sim.http.post(insert_url, json={**row, "Company": ""}, headers=headers) as r:
        assert (r.status, await r.json()) == (
            400,
            {"Message": "Cannot insert NULL into Company column"},
        )
    async with sim.http.post(insert_url, json=row, headers=headers) as response:
        assert response.status == 201
    async with sim.http.post(insert_url, json=row, headers=headers) as response:
        assert response.status == 500
        assert (await response.json())[
            "Message"
        ] == "Object reference not set to an instance of an object."
    update = {"VEAccounting": [{"PayTerms": "PWP"}]}
    async with sim.http.put(
        f"{sim.api}/firm/{firm['ClientID']}", json=update, headers=headers
    ) as r:
        assert r.status == 200
    async with sim.http.get(read_url, headers=headers) as response:
        assert (await response.json())[0]["PayTerms"] == "PWP"


async def test_paging_by_limit_or_pagesize_and_page_or_offset(sim: Sim) -> None:
    """§5: size by limit or pageSize, position by 1-based page or 0-based offset; bare arrays."""
    token = await sim.token()
    async with await sim.get("/firm", token) as response:
        everything = [f["ClientID"] for f in await response.json()]
    for params, expected in [
        ({"limit": "5", "page": "2"}, everything[5:10]),
        ({"pageSize": "5", "page": "2"}, everything[5:10]),
        ({"pageSize": "5", "offset": "3"}, everything[3:8]),
        ({"pageSize": "50", "page": "99"}, []),
    ]:
        async with await sim.get("/firm", token, **params) as response:
            assert [f["ClientID"] for f in await response.json()] == expected


async def test_field_filter_trims_reads_and_writes(sim: Sim) -> None:
    """§5: fieldFilter projects the answered records, on GET and also on POST."""
    token = await sim.token()
    async with await sim.get("/firm", token, fieldFilter="ClientID,Name", pageSize="3") as r:
        assert all(set(row) == {"ClientID", "Name"} for row in await r.json())
    headers = {"Authorization": f"Bearer {token}"}
    url = f"{sim.api}/firm?fieldFilter=ClientID"
    async with sim.http.post(url, json={"Name": "Trimmed"}, headers=headers) as response:
        assert set((await response.json())[0]) == {"ClientID"}


async def test_filter_hash_accepts_symbols_and_words(sim: Sim) -> None:
    """§5: filterHash[i][name|value|opp|type|condition|seq]; symbolic and word operators both."""
    token = await sim.token()
    for opp in (">=", "ge"):
        params = {"filterHash[0][name]": "Period", "filterHash[0][value]": "202606",
                  "filterHash[0][opp]": opp, "filterHash[0][type]": "int",
                  "filterHash[0][condition]": "AND", "filterHash[0][seq]": "1"}  # fmt: skip
        async with await sim.get("/Settings/Period", token, **params) as response:
            assert [p["Period"] for p in await response.json()] == [202606, 202607]


async def test_ap_ledger_filters_only_by_filter_hash_and_refuses_limit(sim: Sim) -> None:
    """§3.C: PSALedger ignores plain parameters such as ?Period=X, filters only by filterHash,
    and may answer 500 to limit (q.maxrows is its row cap)."""
    token = await sim.token()
    ledger = sim.state.store.ledger
    period = ledger[0]["Period"]
    async with await sim.get("/PSALedger/AP", token, Period=str(period)) as response:
        assert len(await response.json()) == len(ledger)
    params = {"filterHash[0][name]": "Period", "filterHash[0][value]": str(period),
              "filterHash[0][opp]": "=", "filterHash[0][type]": "int"}  # fmt: skip
    async with await sim.get("/PSALedger/AP", token, **params) as response:
        rows = await response.json()
    assert rows
    assert len(rows) == sum(1 for r in ledger if r["Period"] == period)
    async with await sim.get("/PSALedger/AP", token, limit="5") as response:
        assert response.status == 500
        assert "Message" in await response.json()
    async with await sim.get("/PSALedger/AP", token, **{"q.maxrows": "2"}) as response:
        assert len(await response.json()) == 2


async def test_ap_entry_round_trip_and_required_field_message(sim: Sim) -> None:
    """§3.A: one POST /DataEntry/apControl creates header, apMaster[] and apDetail[];
    GET /DataEntry/apControl/{batch}, apMaster/{batch} and apDetail/{batch} read them back as
    arrays; missing fields are refused with "Please provide a {Field} for table {Table}.";
    amounts go out as exact JSON numbers."""
    token = await sim.token()
    headers = {"Authorization": f"Bearer {token}"}
    url = f"{sim.api}/DataEntry/apControl"
    async with sim.http.post(
        url, json=voucher("B-RT", active_vendor(sim)), headers=headers
    ) as response:
        assert response.status == 201
    async with await sim.get("/DataEntry/apControl/B-RT", token) as response:
        [batch] = json.loads(await response.text())
    assert batch["Batch"] == "B-RT"
    assert batch["Posted"] == "N"
    assert batch["Period"] == 202606
    async with await sim.get("/DataEntry/apMaster/B-RT", token) as response:
        assert [m["Invoice"] for m in await response.json()] == ["INV-1"]
    async with await sim.get("/DataEntry/apDetail/B-RT", token) as response:
        text = await response.text()
    assert [d["PKey"] for d in json.loads(text)] == ["B-RT-d"]
    assert '"Amount":1850.10' in text
    missing = voucher("B-MISS", active_vendor(sim))
    del missing["apMaster"][0]["Invoice"]  # type: ignore[index]
    async with sim.http.post(url, json=missing, headers=headers) as response:
        assert (response.status, await response.json()) == (
            400,
            {"Message": "Please provide a Invoice for table apMaster."},
        )
    assert "B-MISS" not in sim.state.store.batches


async def test_post_trans_file_answers_a_json_string_holding_json(sim: Sim) -> None:
    """§3.A: PUT /DataEntry/PostTransFile takes parms as an object or an array and answers a
    JSON-encoded string whose content has typeList, batchList, retList, periodList,
    postseqList and msg; posted rows then appear in PSALedger/AP (§3.C)."""
    token = await sim.token()
    headers = {"Authorization": f"Bearer {token}"}
    for batch in ("P-1", "P-2"):
        async with sim.http.post(
            f"{sim.api}/DataEntry/apControl",
            json=voucher(batch, active_vendor(sim)),
            headers=headers,
        ):
            pass
    parms = [{"batch": b, "clientcompany": "01", "period": "202606", "transtype": "AP"}
             for b in ("P-1", "P-2", "P-404")]  # fmt: skip
    url = f"{sim.api}/DataEntry/PostTransFile"
    async with sim.http.put(url, json={"parms": parms}, headers=headers) as response:
        outer = await response.json()
    assert isinstance(outer, str)
    inner = json.loads(outer)
    assert set(inner) == {"typeList", "batchList", "retList", "periodList", "postseqList", "msg"}
    assert inner["batchList"] == "P-1|P-2|P-404"
    assert inner["retList"] == "1|1|0"
    assert sum(1 for row in sim.state.store.ledger if row["Batch"] in ("P-1", "P-2")) == 2


async def test_restricted_role_reads_amounts_as_zero(start_sim: SimFactory) -> None:
    """§1.4 (❓ single source): a role without full field visibility reads amounts as zero."""
    sim = await start_sim(SimOptions(restricted_role=True, seed=SMALL_SEED))
    token = await sim.token()
    async with await sim.get("/project", token) as response:
        assert {Decimal(str(p["Fee"])) for p in await response.json()} == {Decimal(0)}
    async with await sim.get("/PSALedger/AP", token) as response:
        assert {Decimal(str(r["Amount"])) for r in await response.json()} == {Decimal(0)}


async def test_reference_data_keys_and_levels(sim: Sim) -> None:
    """§4: Accounts, projects (WBS1/WBS2/WBS3, ChargeType, Status, SubLevel; phases and tasks
    via wbstype) and periods (int YYYYMM) with their documented keys."""
    token = await sim.token()
    async with await sim.get("/Accounts/", token) as response:
        account = (await response.json())[0]
    assert {"Account", "Name", "Type", "Status", "Detail"} <= set(account)
    levels = {}
    for level in ("wbs1", "wbs2", "wbs3"):
        async with await sim.get("/project", token, wbstype=level) as response:
            levels[level] = await response.json()
    assert all(p["WBS2"].strip() == "" for p in levels["wbs1"])
    assert all(p["WBS2"].strip() and not p["WBS3"].strip() for p in levels["wbs2"])
    assert levels["wbs3"]
    assert all(p["WBS3"].strip() for p in levels["wbs3"])
    keys = {"WBS1", "WBS2", "WBS3", "WBSNumber", "Name", "ChargeType", "Status", "SubLevel", "Fee"}
    assert keys <= set(levels["wbs1"][0])
    async with await sim.get("/Settings/Period", token) as response:
        periods = await response.json()
    assert all(isinstance(p["Period"], int) and 190001 < p["Period"] < 300001 for p in periods)


async def test_bank_codes_answer_their_documented_keys(sim: Sim) -> None:
    """§4 (🟡): ``GET /BankCode/CFGBANKS`` answers a bare array of the tenant's bank codes with
    the keys Code, Description, Company, Org, Account, the code vouchers name (``OPER``, §8.3)
    among them; like any listing, it filters by filterHash and trims by fieldFilter (§5)."""
    token = await sim.token()
    async with await sim.get("/BankCode/CFGBANKS", token) as response:
        banks = await response.json()
    assert response.status == 200
    assert all(set(bank) == {"Code", "Description", "Company", "Org", "Account"} for bank in banks)
    assert {bank["Code"] for bank in banks} == {"OPER", "PAYROLL"}
    assert all(bank["Account"] in sim.state.store.accounts for bank in banks)
    query = {"filterHash[0][name]": "Code", "filterHash[0][value]": "OPER", "fieldFilter": "Code"}
    async with await sim.get("/BankCode/CFGBANKS", token, **query) as response:
        assert await response.json() == [{"Code": "OPER"}]


async def test_instance_prefix_and_vision_paths(start_sim: SimFactory) -> None:
    """§0: the API lives at /{instance}/api and vision endpoints at /{instance}/vision; unknown
    routes answer 404 with a Message body (§6)."""
    sim = await start_sim(SimOptions(instance="acme", seed=SMALL_SEED))
    assert sim.api.endswith("/acme/api")
    token = await sim.token()
    async with await sim.get("/Settings/Period", token) as response:
        assert response.status == 200
    async with await sim.get("/NoSuchThing", token) as response:
        assert response.status == 404
        assert "Message" in await response.json()


def test_seed_is_deterministic_and_realistic() -> None:
    """Issue: the data set is deterministic from the seed, with a few hundred vendors by default,
    a second currency, projects with phases and tasks, and open periods."""
    default = SimOptions(seed=SeedOptions(today=SMALL_SEED.today))

    def make(options: SimOptions) -> Store:
        return SimState(options=options, faults=FaultInjector()).store

    one, two = make(default), make(default)
    other = make(SimOptions(seed=SeedOptions(seed=1, today=SMALL_SEED.today)))
    assert one.firms == two.firms
    assert one.ledger == two.ledger
    assert one.firms != other.firms
    vendors = [f for f in one.firms.values() if f["VendorInd"] == "Y"]
    assert len(vendors) == 300
    assert len(one.currencies) == 2
    assert {p["ChargeType"] for p in one.projects} == {"R", "H", "P"}
    assert sum(1 for p in one.periods if p["Closed"] == "N") >= 3
