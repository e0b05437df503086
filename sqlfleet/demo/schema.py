"""The demo source schema as data: an OLTP SQL Server database (AdventureWorks-like) in SQLite.

Every table lists its columns with the type SQL Server declares, whether the column is nullable
and how its values are generated (``Column.kind``); ``generate.py`` turns this into SQLite files.
Row counts are at ``scale=1.0``. ``EDGE_TABLE`` holds fixed boundary values instead (``edge_rows``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal, TypedDict

from sqlfleet.sql.identifiers import quote_identifier as q

ValueKind = Literal[
    "serial", "group", "cycle", "ref", "int", "bit", "decimal", "float", "real", "datetime3",
    "datetime7", "date", "datestep", "time", "guid", "text", "choice", "code", "rcode", "bytes",
]  # fmt: skip
TextPool = Literal["first", "last", "city", "word", "sentence", "paragraph", "email"]

BIG_TABLE = "Sales Order Line"
EDGE_TABLE = "edge_values"
EMPTY_TABLE = "legacy_order_archive"


@dataclass(frozen=True)
class Column:
    """One column: SQL Server declared type, nullability and the recipe for its values.

    ``lo``/``hi`` bound numbers (in units of the column), byte lengths, word counts or day
    offsets from the base date; ``step`` is the group size or period of ``group``/``cycle``/
    ``datestep`` keys; ``leading_nulls`` forces the first rows NULL (a reader-inference trap).
    """

    name: str
    declared: str
    kind: ValueKind
    nullable: bool = True
    null_rate: float = 0.0
    leading_nulls: int = 0
    lo: float = 0
    hi: float = 0
    p: float = 0.5
    ref: str = ""
    pool: TextPool = "word"
    choices: tuple[str, ...] = ()
    fmt: str = "{}"
    step: int = 1

    @property
    def scale(self) -> int:
        """Digits after the decimal point for ``decimal``/``numeric``/``money`` columns."""
        if self.declared.lower() in {"money", "smallmoney"}:
            return 4
        match = re.search(r"\(\s*\d+\s*,\s*(\d+)\s*\)", self.declared)
        return int(match.group(1)) if match else 0


@dataclass(frozen=True)
class Table:
    """One table: name, rows at scale 1, columns in order and primary-key column names."""

    name: str
    rows: int
    columns: tuple[Column, ...]
    pk: tuple[str, ...] = ()

    @property
    def primary_key(self) -> tuple[str, ...]:
        """The primary key; by default the first column."""
        return self.pk or (self.columns[0].name,)


@dataclass(frozen=True)
class View:
    """A view and the SELECT it is defined by."""

    name: str
    select: str


class _Nulls(TypedDict):
    nullable: bool
    null_rate: float
    leading_nulls: int


def _null(null: float, leading: int) -> _Nulls:
    return {"nullable": bool(null or leading), "null_rate": null, "leading_nulls": leading}


def key(name: str, declared: str = "int") -> Column:
    """An identity-like key: 1, 2, 3, ..."""
    return Column(name, declared, "serial", nullable=False)


def ref(name: str, table: str, null: float = 0.0, declared: str = "int") -> Column:
    """A foreign key: uniform over the referenced table's row numbers."""
    return Column(name, declared, "ref", ref=table, **_null(null, 0))


def num(
    name: str, declared: str, lo: float, hi: float, *, null: float = 0.0, whole: float = 0.0, leading: int = 0
) -> Column:
    """A number in ``[lo, hi]``; ``whole`` is the share of exact decimals with no fraction."""
    base = declared.split("(", maxsplit=1)[0].lower()
    kind: ValueKind = "int" if base.endswith("int") else "decimal"
    if base in {"float", "real"}:
        kind = "float" if base == "float" else "real"
    return Column(name, declared, kind, lo=lo, hi=hi, p=whole, **_null(null, leading))


def ts(name: str, declared: str, null: float = 0.0, *, lo: int = 0, hi: int = 3652, leading: int = 0) -> Column:
    """A ``datetime`` (.fff), ``datetime2`` (7 digits), ``date`` or ``time``; days ``lo..hi`` from 2015."""
    kinds: dict[str, ValueKind] = {"datetime": "datetime3", "datetime2": "datetime7", "date": "date"}
    kind = kinds.get(declared, "time")
    return Column(name, declared, kind, lo=lo, hi=hi, **_null(null, leading))


def bit(name: str, p: float = 0.5, null: float = 0.0, leading: int = 0) -> Column:
    """A ``bit``: 1 with probability ``p``."""
    return Column(name, "bit", "bit", p=p, **_null(null, leading))


def uid(name: str, null: float = 0.0, leading: int = 0) -> Column:
    """A ``uniqueidentifier`` in upper-case text."""
    return Column(name, "uniqueidentifier", "guid", **_null(null, leading))


def txt(name: str, declared: str, pool: TextPool, null: float = 0.0, words: tuple[int, int] = (1, 1)) -> Column:
    """Text drawn from a pool (unicode names, cities, words); sentences have ``words`` words."""
    return Column(name, declared, "text", pool=pool, lo=words[0], hi=words[1], **_null(null, 0))


def pick(name: str, declared: str, choices: str, null: float = 0.0) -> Column:
    """One of a fixed set of values, given as a ``|``-separated string."""
    return Column(name, declared, "choice", choices=_pool(choices), **_null(null, 0))


def code(name: str, declared: str, fmt: str, null: float = 0.0, hi: int = 0) -> Column:
    """A formatted code: from the row number (unique), or from a random number up to ``hi``."""
    kind: ValueKind = "rcode" if hi else "code"
    return Column(name, declared, kind, fmt=fmt, hi=hi, **_null(null, 0))


def blob(name: str, declared: str, lo: int, hi: int, null: float = 0.0) -> Column:
    """Random bytes, ``lo..hi`` long."""
    return Column(name, declared, "bytes", lo=lo, hi=hi, **_null(null, 0))


def tail(modified: str = "datetime") -> tuple[Column, ...]:
    """The ``rowguid`` + ``modified_date`` pair most AdventureWorks tables end with."""
    return (uid("rowguid"), ts("modified_date", modified))


def _pool(values: str) -> tuple[str, ...]:
    return tuple(values.split("|"))


FIRST = _pool(
    "Zoë|José|Łukasz|Søren|Amélie|Ngozi|王芳|Дмитрий|שרה|محمد|Ana|John|Mary|Kenji|Aiko|Björn|Chloé|Ömer|"
    "Priya|Siobhán|Nguyễn|Jürgen|Fatima|Olga|Liam|Emma|Noah|Ava|María|Raúl|Žofie|Yusuf|Ines|Mateo"
)
LAST = _pool(
    "O'Brien|Müller|Kowalski|Dubois|González|Ødegaard|佐藤|Иванов|כהן|الحسن|Smith|Johnson|Nakamura|"
    "Lindqvist|Da Silva|Van der Berg|Nowak|Rossi|Novák|Papadopoulos|Kim|Nguyen|Singh|Öztürk|Brown"
)
CITIES = _pool(
    "東京|Łódź|São Paulo|Zürich|Москва|תל אביב|القاهرة|Reykjavík|Kraków|Düsseldorf|Montréal|Málaga|"
    "İstanbul|Αθήνα|서울|Bogotá|Seattle|London|Paris|Sydney|Mumbai|Lagos|Toronto|Chicago|Berlin|Località"
)
WORDS = _pool(
    "road|bike|frame|wheel|helmet|pedal|chain|saddle|glove|jersey|mountain|touring|sport|classic|"
    "alloy|carbon|steel|blue|red|black|silver|light|heavy|fast|quiet|order|ship|return|credit|"
    "invoice|stock|bin|shelf|crème|brûlée|naïve|café|façade|über|😀|🚲|✓|שלום|مرحبا|こんにちは|数据"
)
CURRENCIES = "EUR|USD|GBP|JPY|CHF|PLN|BRL|CAD|AUD|INR|CNY|ILS"
STATUSES = "draft|open|sent|partially paid|paid|void|overdue"
_TABLE_NAMES = "Customer|Sales Order Line|sales_order_header|Product|invoice|payment|Località"
DT, DT2, MONEY, DEC, NUM = "datetime", "datetime2", "money", "decimal(19,4)", "numeric(9,2)"
SOH, SOL, CUST, PROD = "sales_order_header", BIG_TABLE, "Customer", "Product"
TERR, EMP, WH, LOC = "sales_territory", "Employee", "warehouse", "Località"

TABLES: tuple[Table, ...] = (
    Table("ProductCategory", 50, (
        key("product_category_id"), txt("Name", "nvarchar(50)", "word"), num("sort_order", "tinyint", 0, 50),
        *tail())),
    Table("product_subcategory", 120, (
        key("product_subcategory_id"), ref("product_category_id", "ProductCategory"),
        txt("name", "nvarchar(50)", "sentence", 0, (1, 3)), bit("is_discontinued", 0.1),
        ts("modified_date", DT2))),
    Table(PROD, 500, (
        key("product_id"), code("product_number", "varchar(20)", "PR-{:06d}"),
        txt("name", "nvarchar(50)", "sentence", 0, (2, 4)),
        ref("product_subcategory_id", "product_subcategory", null=0.1),
        pick("color", "nvarchar(15)", "Black|Silver|Red|Blue|Yellow|Multi", null=0.3),
        num("list_price", MONEY, 1, 3500, whole=0.2), num("standard_cost", DEC, 0.5, 2000, whole=0.1),
        num("weight_kg", "real", 0.1, 80, null=0.25),
        pick("size", "nvarchar(5)", "S|M|L|XL|38|40|42|44", null=0.35), bit("make_flag", 0.4),
        ts("sell_start_date", "date"), ts("sell_end_date", "date", null=0.35), *tail(DT2))),
    Table("Price History", 1000, (
        Column("product_id", "int", "group", nullable=False, step=4),
        Column("effective_date", "date", "datestep", nullable=False, step=4, hi=180),
        num("list_price", MONEY, 1, 3500, whole=0.2), num("standard_cost", "decimal(38,10)", 0, 99999),
        ts("end_date", "date", null=0.25), ts("modified_date", DT)),
        pk=("product_id", "effective_date")),
    Table(CUST, 4000, (
        key("customer_id"), txt("First Name", "nvarchar(50)", "first"),
        txt("LastName", "nvarchar(50)", "last"),
        txt("EmailAddress", "varchar(50)", "email", null=0.1),
        code("phone", "varchar(20)", "+1 555-{:07d}", null=0.2, hi=10**7), bit("is_active", 0.85),
        bit("email_opt_in", 0.3, null=0.2, leading=1), code("account_number", "varchar(20)", "AW{:08d}"),
        ts("birth_date", "date", null=0.3, lo=-20000, hi=-6600),
        num("credit_limit", NUM, 0, 50000, null=0.1, whole=0.5, leading=1),
        ref("territory_id", TERR, null=0.1), uid("rowguid"), ts("created_at", DT2), ts("modified_date", DT))),
    Table("Address", 6000, (
        key("address_id"), ref("customer_id", CUST),
        txt("address_line1", "nvarchar(60)", "sentence", 0, (2, 4)),
        txt("address_line2", "nvarchar(60)", "sentence", 0.35, (1, 3)),
        txt("city", "nvarchar(30)", "city"), ref("location_id", LOC, null=0.1),
        code("postal_code", "varchar(15)", "{:05d}", hi=99999), num("latitude", "float", -60, 70),
        num("longitude", "float", -180, 180), bit("is_primary", 0.6), ts("modified_date", DT2))),
    Table(SOH, 10000, (
        key("sales_order_id"), ref("customer_id", CUST), ref("sales_person_id", "sales_person", null=0.3),
        ref("territory_id", TERR), ts("order_date", DT), ts("due_date", "date"),
        ts("ship_date", DT, null=0.15, leading=1), num("status", "tinyint", 1, 6),
        bit("online_order_flag", 0.7),
        code("purchase_order_number", "nvarchar(25)", "PO{:011d}", 0.35, 10**11),
        pick("currency_code", "nchar(3)", CURRENCIES), num("sub_total", MONEY, 5, 90000, whole=0.05),
        num("tax_amt", MONEY, 0, 7000), num("freight", MONEY, 0, 2000, whole=0.1),
        num("total_due", DEC, 5, 99000), txt("comment", "nvarchar(max)", "sentence", 0.35, (3, 20)),
        *tail(DT2))),
    Table(SOL, 60000, (
        key("sales_order_line_id", "bigint"), ref("sales_order_id", SOH),
        Column("line_number", "smallint", "cycle", nullable=False, step=6), ref("product_id", PROD),
        num("order_qty", "smallint", 1, 40), num("unit_price", MONEY, 0.5, 3500, whole=0.15),
        num("unit_price_discount", DEC, 0, 0.4, whole=0.6), num("line_total", DEC, 0.5, 140000, whole=0.05),
        bit("is_backordered", 0.05, null=0.1),
        code("carrier_tracking_number", "nvarchar(25)", "4911-403C-{:06d}", null=0.3, hi=10**6),
        *tail(DT2))),
    Table("audit_event", 10000, (
        key("audit_event_id", "bigint"), ts("event_time", DT2), txt("user_name", "nvarchar(50)", "first"),
        pick("event_type", "varchar(20)", "INSERT|UPDATE|DELETE|LOGIN|EXPORT"),
        pick("table_name", "nvarchar(128)", _TABLE_NAMES), num("row_key", "bigint", 1, 10**12),
        txt("payload", "nvarchar(max)", "paragraph", 0.3, (5, 60)),
        uid("correlation_id", null=0.1, leading=1500),
        code("client_ip", "varchar(45)", "10.0.0.{:d}", hi=254), bit("success", 0.95))),
    Table("inventory_transaction", 10000, (
        key("transaction_id", "bigint"), ref("product_id", PROD), ref("warehouse_id", WH),
        ref("bin_location_id", "bin_location", null=0.2), pick("transaction_type", "nchar(1)", "W|S|P"),
        num("quantity", "int", -500, 500), num("unit_cost", DEC, 0.5, 2000, whole=0.1),
        ts("transaction_date", DT), ref("reference_order_id", SOH, null=0.3), ts("modified_date", DT2))),
    Table("payment", 8000, (
        key("payment_id"), ref("invoice_id", "invoice"), num("amount", MONEY, 0.01, 99000, whole=0.1),
        ts("paid_at", DT2), pick("method", "varchar(20)", "card|wire|sepa|cash|cheque|paypal"),
        pick("currency_code", "nchar(3)", CURRENCIES), ref("credit_card_id", "credit_card", null=0.35),
        bit("is_refund", 0.03), uid("external_ref", null=0.1), num("fee", NUM, 0, 250, null=0.3))),
    Table("invoice", 8000, (
        key("invoice_id"), ref("sales_order_id", SOH), code("invoice_number", "varchar(20)", "INV-{:08d}"),
        ts("issued_on", "date"), ts("due_on", "date"), num("amount", DEC, 5, 99000, whole=0.05),
        num("tax", NUM, 0, 7000), pick("status", "varchar(20)", STATUSES), bit("paid", 0.7, null=0.1),
        txt("notes", "nvarchar(max)", "sentence", 0.35, (2, 12)),
        blob("pdf", "varbinary(max)", 64, 512, null=0.35), ts("modified_date", DT))),
    Table("shipment", 6000, (
        key("shipment_id"), ref("sales_order_id", SOH), ref("ship_method_id", "ship_method"),
        ref("warehouse_id", WH), ts("shipped_at", DT), ts("delivered_at", DT2, null=0.2),
        code("tracking_number", "varchar(30)", "1Z{:016d}", hi=10**16), num("weight_kg", "real", 0.1, 500),
        num("freight", NUM, 0, 2000, whole=0.1), txt("recipient", "nvarchar(100)", "first"),
        txt("destination_city", "nvarchar(50)", "city"))),
    Table("department", 50, (
        key("department_id"), txt("name", "nvarchar(50)", "sentence", 0, (1, 2)),
        pick("group_name", "nvarchar(50)", "Research and Development|Sales and Marketing|Quality Assurance"),
        code("cost_center", "varchar(20)", "CC-{:04d}"), ts("modified_date", DT))),
    Table(EMP, 600, (
        key("employee_id"), code("national_id", "varchar(15)", "{:09d}", hi=10**9),
        txt("login_id", "nvarchar(256)", "email"),
        pick("job_title", "nvarchar(50)", "Engineer|Buyer|Clerk|Manager"),
        txt("first_name", "nvarchar(50)", "first"), txt("last_name", "nvarchar(50)", "last"),
        ts("birth_date", "date", lo=-18000, hi=-7000), ts("hire_date", "date"),
        pick("gender", "nchar(1)", "F|M|X"),
        bit("salaried_flag", 0.3), num("vacation_hours", "smallint", 0, 99),
        num("sick_leave_hours", "smallint", 0, 80), ref("department_id", "department"),
        ref("manager_id", EMP, null=0.08), blob("password_hash", "varbinary(16)", 16, 16),
        bit("current_flag", 0.9), *tail(DT2))),
    Table("employee_pay_history", 900, (
        key("pay_history_id"), ref("employee_id", EMP), ts("rate_change_date", DT),
        num("rate", MONEY, 9.5, 150), num("pay_frequency", "tinyint", 1, 2), ts("modified_date", DT))),
    Table("shift", 50, (
        key("shift_id"), pick("name", "nvarchar(50)", "Day|Evening|Night|Weekend"), ts("start_time", "time"),
        ts("end_time", "time"), ts("modified_date", DT))),
    Table("vendor", 300, (
        key("vendor_id"), code("account_number", "varchar(20)", "VEND{:06d}"),
        txt("name", "nvarchar(100)", "sentence", 0, (1, 4)), num("credit_rating", "tinyint", 1, 5),
        bit("preferred_vendor", 0.6), bit("active", 0.9, null=0.1),
        code("website", "nvarchar(1024)", "https://vendor{}.example.com", null=0.35, hi=10**4),
        ts("modified_date", DT))),
    Table("product_vendor", 700, (
        key("product_vendor_id"), ref("product_id", PROD), ref("vendor_id", "vendor"),
        num("average_lead_time", "int", 1, 120), num("standard_price", MONEY, 0.2, 2000),
        num("last_receipt_cost", DEC, 0.2, 2100, null=0.2), ts("last_receipt_date", DT, 0.2),
        num("min_order_qty", "int", 1, 100), num("max_order_qty", "int", 100, 5000),
        num("on_order_qty", "int", 0, 1000, null=0.35), ts("modified_date", DT))),
    Table("purchase_order_header", 900, (
        key("purchase_order_id"), ref("employee_id", EMP), ref("vendor_id", "vendor"),
        ref("ship_method_id", "ship_method"), ts("order_date", DT), ts("ship_date", DT, null=0.2),
        num("status", "tinyint", 1, 4), num("sub_total", MONEY, 10, 500000), num("tax_amt", MONEY, 0, 40000),
        num("freight", MONEY, 0, 9000), ts("modified_date", DT2))),
    Table("purchase_order_detail", 1000, (
        key("purchase_order_detail_id"), ref("purchase_order_id", "purchase_order_header"),
        ref("product_id", PROD), ts("due_date", DT), num("order_qty", "smallint", 1, 800),
        num("unit_price", MONEY, 0.2, 2000), num("received_qty", NUM, 0, 800, whole=0.8),
        num("rejected_qty", NUM, 0, 80, whole=0.9), ts("modified_date", DT))),
    Table(WH, 50, (
        key("warehouse_id"), txt("name", "nvarchar(50)", "city"), ref("location_id", LOC),
        num("capacity", "int", 1000, 10**6), bit("is_bonded", 0.2), ts("opened_on", "date"),
        ts("modified_date", DT))),
    Table(LOC, 200, (
        key("location_id"), txt("name", "nvarchar(100)", "city"),
        pick("region", "nvarchar(50)", "EMEA|APAC|LATAM|NA"),
        pick("country_code", "nchar(3)", "JPN|POL|BRA|CHE|ISR"), num("latitude", "float", -60, 70),
        num("longitude", "float", -180, 180),
        pick("timezone", "varchar(40)", "Europe/Warsaw|Asia/Tokyo|America/Sao_Paulo|Asia/Jerusalem|UTC"),
        num("population", "bigint", 1000, 4 * 10**7, null=0.2), ts("modified_date", DT2))),
    Table("bin_location", 500, (
        key("bin_location_id"), ref("warehouse_id", WH), code("aisle", "varchar(10)", "A{:03d}", hi=400),
        num("shelf", "tinyint", 1, 12), num("bin", "smallint", 1, 500),
        num("max_weight_kg", "real", 10, 2000), bit("is_active", 0.9), ts("modified_date", DT))),
    Table("promotion", 150, (
        Column("promotion_id", "uniqueidentifier", "guid", nullable=False),
        txt("description", "nvarchar(255)", "sentence", 0, (3, 10)), num("discount_pct", DEC, 0, 0.5),
        pick("type", "nvarchar(50)", "No Discount|Volume Discount|Seasonal Discount|Excess Inventory"),
        pick("category", "nvarchar(50)", "Reseller|Customer|No Discount"), ts("start_date", DT),
        ts("end_date", DT), num("min_qty", "int", 0, 60), num("max_qty", "int", 60, 1000, null=0.3),
        ts("modified_date", DT))),
    Table("currency", 60, (
        key("currency_id"), pick("currency_code", "nchar(3)", CURRENCIES),
        pick("name", "nvarchar(50)", "Euro|US Dollar|Pound Sterling|Yen|Złoty|Real|Shekel"),
        pick("symbol", "nvarchar(5)", "€|$|£|¥|zł|R$|₪"), num("minor_units", "tinyint", 0, 3),
        ts("modified_date", DT))),
    Table("currency_rate", 1000, (
        key("currency_rate_id"), ts("currency_rate_date", DT),
        pick("from_currency_code", "nchar(3)", CURRENCIES), pick("to_currency_code", "nchar(3)", CURRENCIES),
        num("average_rate", "float", 0.001, 400), num("end_of_day_rate", "float", 0.001, 400),
        ts("modified_date", DT))),
    Table(TERR, 50, (
        key("territory_id"), txt("name", "nvarchar(50)", "city"),
        pick("country_region_code", "nchar(3)", "USA|CAN|FRA"),
        pick("Group", "nvarchar(50)", "North America|Europe|Pacific"), num("sales_ytd", MONEY, 0, 10**7),
        num("sales_last_year", MONEY, 0, 10**7), num("cost_ytd", MONEY, 0, 10**6, whole=0.5), *tail())),
    Table("sales_person", 120, (
        key("sales_person_id"), ref("employee_id", EMP), ref("territory_id", TERR, null=0.1),
        num("sales_quota", MONEY, 10**5, 10**6, null=0.2, whole=0.9),
        num("bonus", MONEY, 0, 10**4, whole=0.5), num("commission_pct", DEC, 0, 0.02),
        num("sales_ytd", MONEY, 0, 5 * 10**6), ts("modified_date", DT))),
    Table("store", 400, (
        key("store_id"), txt("name", "nvarchar(50)", "sentence", 0, (2, 4)),
        ref("sales_person_id", "sales_person", 0.1),
        txt("demographics", "nvarchar(max)", "paragraph", 0.3, (20, 80)), ts("opened_on", "date"),
        num("employees", "smallint", 1, 500), num("annual_revenue", MONEY, 10**4, 10**7), *tail(DT2))),
    Table("credit_card", 900, (
        key("credit_card_id"),
        pick("card_type", "nvarchar(50)", "Vista|SuperiorCard|Distinguish|ColonialVoice"),
        code("card_last4", "varchar(4)", "{:04d}", hi=9999), num("exp_month", "tinyint", 1, 12),
        num("exp_year", "smallint", 2015, 2035), ref("customer_id", CUST), ts("modified_date", DT))),
    Table("ship_method", 50, (
        key("ship_method_id"),
        pick("name", "nvarchar(50)", "XRQ - TRUCK GROUND|ZY - EXPRESS|OVERSEAS - DELUXE"),
        num("ship_base", MONEY, 1, 50), num("ship_rate", MONEY, 0.5, 5),
        num("transit_days", "tinyint", 1, 30), *tail())),
    Table("special_offer_product", 600, (
        key("special_offer_product_id"), ref("product_id", PROD),
        num("discount", DEC, 0, 0.5, whole=0.3), num("quantity_limit", "int", 1, 100, null=0.3),
        bit("is_exclusive", 0.1), ts("valid_from", "date"), ts("valid_to", "date", null=0.3),
        ts("modified_date", DT))),
    Table("work_order", 1000, (
        key("work_order_id"), ref("product_id", PROD), num("order_qty", "int", 1, 1000),
        num("stocked_qty", "int", 0, 1000), num("scrapped_qty", "smallint", 0, 50), ts("start_date", DT),
        ts("end_date", DT, null=0.15), ts("due_date", DT), ref("scrap_reason_id", "scrap_reason", null=0.35),
        num("duration_hours", "float", 0.25, 400), ts("modified_date", DT))),
    Table("scrap_reason", 50, (
        key("scrap_reason_id"), txt("name", "nvarchar(50)", "sentence", 0, (2, 5)),
        num("severity", "tinyint", 1, 5), ts("modified_date", DT))),
    Table("product_review", 300, (
        key("product_review_id"), ref("product_id", PROD), txt("reviewer_name", "nvarchar(50)", "first"),
        ts("review_date", DT), txt("email_address", "nvarchar(50)", "email"), num("rating", "tinyint", 1, 5),
        txt("comments", "nvarchar(max)", "paragraph", 0.1, (10, 120)), num("helpful_votes", "int", 0, 500),
        pick("language", "nchar(3)", "ENG|POL|JPN|HEB|ARA|DEU"), ts("modified_date", DT))),
    Table("document", 200, (
        key("document_id"), txt("title", "nvarchar(50)", "sentence", 0, (1, 4)),
        code("file_name", "nvarchar(400)", "C:\\Documents\\doc_{:05d}.pdf", hi=99999),
        pick("file_extension", "nvarchar(8)", ".pdf|.docx|.xlsx|.txt"), num("change_number", "int", 0, 30000),
        num("status", "tinyint", 1, 3), txt("document_summary", "nvarchar(max)", "paragraph", 0.3, (10, 60)),
        blob("content", "varbinary(max)", 256, 4096, null=0.1), blob("checksum", "varbinary(16)", 16, 16),
        ref("owner_id", EMP), ts("modified_date", DT2))),
    Table("ErrorLog", 100, (
        key("ErrorLogID"), ts("ErrorTime", DT), txt("UserName", "nvarchar(128)", "first"),
        num("ErrorNumber", "int", 50000, 60000), num("ErrorSeverity", "int", 1, 25, null=0.2),
        num("ErrorState", "int", 1, 255, null=0.2),
        pick("ErrorProcedure", "nvarchar(126)", "uspPrintError|uspLogError", 0.35),
        num("ErrorLine", "int", 1, 900, null=0.2),
        txt("ErrorMessage", "nvarchar(4000)", "sentence", 0, (5, 25)))),
    # Filled from edge_rows(); the kinds are unused.
    Table(EDGE_TABLE, 0, (
        key("edge_id"), Column("label", "varchar(20)", "code", nullable=False),
        *(Column(n, d, "int") for n, d in (
            ("big_integer", "bigint"), ("huge_decimal", "decimal(38,0)"),
            ("precise_decimal", "decimal(38,10)"), ("amount", MONEY), ("int_value", "int"),
            ("small_value", "smallint"), ("tiny_value", "tinyint"),
            ("happened_at", DT2), ("legacy_at", DT), ("day", "date"), ("at_time", "time"),
            ("short_text", "nvarchar(50)"), ("note", "nvarchar(max)"), ("payload", "varbinary(max)"),
            ("flag", "bit"), ("ratio", "float"), ("real_value", "real"))))),
    Table(EMPTY_TABLE, 0, (
        key("archive_id", "bigint"), Column("sales_order_id", "int", "int", nullable=False),
        ts("archived_at", DT2), txt("payload", "nvarchar(max)", "paragraph", 0.1),
        pick("reason", "varchar(20)", "retention|gdpr"))),
)  # fmt: skip

_LONG_TEXT = ("Zoë in Łódź 東京 😀 שלום مرحبا — " * 4000)[:100_000]
_QUOTES = 'O\'Brien "the" \\ back'
_MAX_TS, _MIN_TS = "9999-12-31 23:59:59.9999999", "0001-01-01 00:00:00.0000000"


def edge_rows() -> list[tuple[object, ...]]:
    """The fixed rows of ``EDGE_TABLE``: boundaries SQLite can still store exactly.

    Decimals go in as text, as a copy from SQL Server would: NUMERIC affinity then stores them as
    INTEGER (whole, up to 2**63-1) or REAL (at most 15 significant digits survive, so none here
    has more). Covers empty string vs NULL, quotes and backslashes, ~100 KB text, 0 B and 1 KB binary.
    """
    kb = bytes(range(256)) * 4
    return [
        (1, "max", 2**63 - 1, str(2**63 - 1), "99999.9999999999", "999999999.9999", 2**31 - 1, 32767, 255,
         _MAX_TS, "9999-12-31 23:59:59.997", "9999-12-31", "23:59:59.9999999", _QUOTES, _LONG_TEXT, kb, 1,
         1.7976931348623157e308, 3.4028234663852886e38),
        (2, "min", -(2**63), str(-(2**63)), "-99999.9999999999", "-999999999.9999", -(2**31), -32768, 0,
         _MIN_TS, "1753-01-01 00:00:00.000", "0001-01-01", "00:00:00.0000000", "", "", b"", 0,
         -1.7976931348623157e308, -3.4028234663852886e38),
        (3, "zero", 0, "0", "0.0000000000", "0.0000", 0, 0, 0, "1970-01-01 00:00:00.0000000",
         "1900-01-01 00:00:00.000", "1970-01-01", "12:00:00.0000000", None, None, None, None, 0.0, 0.0),
        (4, "tiny", 1, "1", "0.0000000001", "0.0001", 1, 1, 1, "2000-02-29 00:00:00.0000001",
         "2000-02-29 00:00:00.003", "2000-02-29", "00:00:00.0000001", " padded ", "NULL", b"\x00", 1,
         2.2250738585072014e-308, 1.1754943508222875e-38),
        (5, "negative", -1, "-1", "-0.0000000001", "-0.0001", -1, -1, 0, "1969-12-31 23:59:59.9999999",
         "1969-12-31 23:59:59.997", "1969-12-31", "23:59:59.0000000", "-1", "line1\nline2\ttab", b"\xff", 0,
         -0.5, -0.5),
        (6, "unicode", 42, "42", "42.0000000000", "100.0000", 42, 42, 42, "2024-02-29 12:34:56.1234567",
         "2024-02-29 12:34:56.123", "2024-02-29", "12:34:56.1234567", "Zoë 東京 Łódź 😀 שלום",
         "مرحبا بالعالم 🌍", "Zoë".encode(), 1, 3.141592653589793, 0.15625),
        (7, "quotes", 7, "7", "1234.5678901234", "12345.6789", 7, 7, 7, "2015-06-15 08:00:00.0000000",
         "2015-06-15 08:00:00.000", "2015-06-15", "08:00:00.5000000", _QUOTES, "'; DROP TABLE x; --",
         kb[:16], None, 1e-10, 1024.0),
        (8, "nulls", None, None, None, None, None, None, None, None, None, None, None, None, None, None, None,
         None, None),
    ]  # fmt: skip


# A join, an aggregate (count/sum/max columns have no declared type in SQLite) and a filter.
VIEWS: tuple[View, ...] = (
    View(
        "vw_sales_order_customer",
        "SELECT h.sales_order_id, h.order_date, h.currency_code, h.total_due, c.customer_id, "
        f"c.{q('First Name')}, c.{q('LastName')} FROM {q(SOH)} AS h "
        f"JOIN {q(CUST)} AS c ON c.customer_id = h.customer_id",
    ),
    View(
        "vw_product_sales",
        # round(): SQLite 3.43+ sums REALs with Kahan-Babuska-Neumaier summation, so an unrounded
        # float sum differs in its last digits between the engine's SQLite and the stdlib's.
        "SELECT product_id, count(*) AS line_count, sum(order_qty) AS units, round(sum(line_total), 4) AS revenue, "
        f"max(modified_date) AS last_sold FROM {q(SOL)} GROUP BY product_id",
    ),
    View("vw_active_opted_in_customers", f"SELECT * FROM {q(CUST)} WHERE is_active = 1 AND email_opt_in = 1"),
)
