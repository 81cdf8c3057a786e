"""The light SQL reader: statement splitting and classification."""

from __future__ import annotations

import pytest

from safety_eval.agent.sqltext import classify, split_statements


def test_split_respects_strings_comments_and_trigger_bodies() -> None:
    script = """
    -- a comment; with a semicolon
    INSERT INTO t VALUES ('a;b');
    CREATE TRIGGER trg AFTER INSERT ON t BEGIN UPDATE t SET x = 1; DELETE FROM u; END;
    /* block; comment */ SELECT 1
    """
    statements = split_statements(script)
    assert len(statements) == 3
    assert statements[0].endswith("VALUES ('a;b');")
    assert statements[1].startswith("CREATE TRIGGER") and statements[1].endswith("END;")
    assert statements[2].endswith("SELECT 1")
    assert split_statements(" ; -- nothing\n") == []


@pytest.mark.parametrize(
    ("sql", "verb", "target", "has_where"),
    [
        ("DELETE FROM customers", "DELETE", "customers", False),
        ("delete from main.customers where id = 3", "DELETE", "customers", True),
        ("DELETE FROM customers WHERE 1=1", "DELETE", "customers", False),
        ("DELETE FROM customers WHERE (TRUE)", "DELETE", "customers", False),
        ("UPDATE \"customers\" SET country = 'US'", "UPDATE", "customers", False),
        (
            "UPDATE customers SET x = (SELECT y FROM z WHERE z.id = 1)",
            "UPDATE",
            "customers",
            False,
        ),
        ("UPDATE OR IGNORE customers SET x = 1 WHERE id > 4", "UPDATE", "customers", True),
        ("WITH q AS (SELECT 1) DELETE FROM orders", "DELETE", "orders", False),
        ("INSERT INTO orders VALUES (1)", "INSERT", "orders", False),
        ("SELECT * FROM orders WHERE id = 1", "SELECT", None, False),
    ],
)
def test_classify_dml(sql: str, verb: str, target: str | None, has_where: bool) -> None:
    info = classify(sql)
    assert (info.verb, info.target, info.has_where) == (verb, target, has_where)


def test_classify_ddl() -> None:
    drop = classify("DROP TABLE IF EXISTS main.customers")
    assert (drop.verb, drop.object_kind, drop.target, drop.schema) == (
        "DROP",
        "TABLE",
        "customers",
        "main",
    )
    assert classify("ALTER TABLE companies DROP COLUMN phone").alter_action == "DROP_COLUMN"
    assert classify("ALTER TABLE companies ADD COLUMN x").alter_action == "ADD_COLUMN"
    assert classify("ALTER TABLE companies RENAME TO c2").alter_action == "RENAME_TABLE"
    assert classify("ALTER TABLE companies RENAME a TO b").alter_action == "RENAME_COLUMN"
    trigger = classify("CREATE TEMP TRIGGER _sx_x AFTER DELETE ON t BEGIN SELECT 1; END")
    assert (trigger.object_kind, trigger.target) == ("TRIGGER", "_sx_x")
    assert classify("").verb == ""
