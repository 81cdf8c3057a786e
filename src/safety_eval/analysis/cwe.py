"""The one CWE catalog used everywhere (rules, reports, other scanners' findings).

Covers every CWE the rule pack uses, the CWE Top 25 (2024) and the CWEs bandit
reports. Names follow MITRE's CWE list; ids are always written ``CWE-<n>``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

__all__ = ["CWE_CATALOG", "CWE_TOP25_2024", "CweEntry", "cwe_entry", "cwe_url", "normalize_cwe"]


@dataclass(frozen=True, slots=True)
class CweEntry:
    """One weakness: ``id`` like ``CWE-89``, its MITRE name and definition URL."""

    id: str
    name: str
    url: str


def cwe_url(number: int | str) -> str:
    """The MITRE definition page for a CWE number."""
    return f"https://cwe.mitre.org/data/definitions/{int(number)}.html"


_NAMES: dict[int, str] = {
    20: "Improper Input Validation",
    22: "Improper Limitation of a Pathname to a Restricted Directory ('Path Traversal')",
    73: "External Control of File Name or Path",
    77: "Improper Neutralization of Special Elements used in a Command ('Command Injection')",
    78: "Improper Neutralization of Special Elements used in an OS Command "
    "('OS Command Injection')",
    79: "Improper Neutralization of Input During Web Page Generation ('Cross-site Scripting')",
    88: "Improper Neutralization of Argument Delimiters in a Command ('Argument Injection')",
    89: "Improper Neutralization of Special Elements used in an SQL Command ('SQL Injection')",
    90: "Improper Neutralization of Special Elements used in an LDAP Query ('LDAP Injection')",
    94: "Improper Control of Generation of Code ('Code Injection')",
    95: "Improper Neutralization of Directives in Dynamically Evaluated Code ('Eval Injection')",
    113: "Improper Neutralization of CRLF Sequences in HTTP Headers "
    "('HTTP Request/Response Splitting')",
    116: "Improper Encoding or Escaping of Output",
    117: "Improper Output Neutralization for Logs",
    119: "Improper Restriction of Operations within the Bounds of a Memory Buffer",
    125: "Out-of-bounds Read",
    190: "Integer Overflow or Wraparound",
    200: "Exposure of Sensitive Information to an Unauthorized Actor",
    208: "Observable Timing Discrepancy",
    209: "Generation of Error Message Containing Sensitive Information",
    250: "Execution with Unnecessary Privileges",
    259: "Use of Hard-coded Password",
    269: "Improper Privilege Management",
    276: "Incorrect Default Permissions",
    287: "Improper Authentication",
    295: "Improper Certificate Validation",
    297: "Improper Validation of Certificate with Host Mismatch",
    306: "Missing Authentication for Critical Function",
    311: "Missing Encryption of Sensitive Data",
    312: "Cleartext Storage of Sensitive Information",
    319: "Cleartext Transmission of Sensitive Information",
    321: "Use of Hard-coded Cryptographic Key",
    322: "Key Exchange without Entity Authentication",
    326: "Inadequate Encryption Strength",
    327: "Use of a Broken or Risky Cryptographic Algorithm",
    328: "Use of Weak Hash",
    330: "Use of Insufficiently Random Values",
    338: "Use of Cryptographically Weak Pseudo-Random Number Generator (PRNG)",
    347: "Improper Verification of Cryptographic Signature",
    352: "Cross-Site Request Forgery (CSRF)",
    377: "Insecure Temporary File",
    400: "Uncontrolled Resource Consumption",
    409: "Improper Handling of Highly Compressed Data (Data Amplification)",
    416: "Use After Free",
    434: "Unrestricted Upload of File with Dangerous Type",
    470: "Use of Externally-Controlled Input to Select Classes or Code ('Unsafe Reflection')",
    476: "NULL Pointer Dereference",
    489: "Active Debug Code",
    494: "Download of Code Without Integrity Check",
    502: "Deserialization of Untrusted Data",
    522: "Insufficiently Protected Credentials",
    523: "Unprotected Transport of Credentials",
    532: "Insertion of Sensitive Information into Log File",
    601: "URL Redirection to Untrusted Site ('Open Redirect')",
    605: "Multiple Binds to the Same Port",
    611: "Improper Restriction of XML External Entity Reference",
    614: "Sensitive Cookie in HTTPS Session Without 'Secure' Attribute",
    617: "Reachable Assertion",
    643: "Improper Neutralization of Data within XPath Expressions ('XPath Injection')",
    703: "Improper Check or Handling of Exceptional Conditions",
    732: "Incorrect Permission Assignment for Critical Resource",
    760: "Use of a One-Way Hash with a Predictable Salt",
    770: "Allocation of Resources Without Limits or Throttling",
    776: "Improper Restriction of Recursive Entity References in DTDs ('XML Entity Expansion')",
    780: "Use of RSA Algorithm without OAEP",
    787: "Out-of-bounds Write",
    798: "Use of Hard-coded Credentials",
    807: "Reliance on Untrusted Inputs in a Security Decision",
    838: "Inappropriate Encoding for Output Context",
    862: "Missing Authorization",
    863: "Incorrect Authorization",
    915: "Improperly Controlled Modification of Dynamically-Determined Object Attributes",
    916: "Use of Password Hash With Insufficient Computational Effort",
    918: "Server-Side Request Forgery (SSRF)",
    942: "Permissive Cross-domain Policy with Untrusted Domains",
    943: "Improper Neutralization of Special Elements in Data Query Logic",
    1004: "Sensitive Cookie Without 'HttpOnly' Flag",
    1204: "Generation of Weak Initialization Vector (IV)",
    1327: "Binding to an Unrestricted IP Address",
    1333: "Inefficient Regular Expression Complexity",
    1336: "Improper Neutralization of Special Elements Used in a Template Engine",
}

CWE_CATALOG: dict[str, CweEntry] = {
    f"CWE-{n}": CweEntry(id=f"CWE-{n}", name=name, url=cwe_url(n)) for n, name in _NAMES.items()
}
"""Every CWE known to the project, keyed by normalised id (``CWE-89``)."""

CWE_TOP25_2024: tuple[str, ...] = tuple(
    f"CWE-{n}"
    for n in (
        79,
        787,
        89,
        352,
        22,
        125,
        78,
        416,
        862,
        434,
        94,
        20,
        77,
        287,
        269,
        502,
        200,
        863,
        918,
        119,
        476,
        798,
        190,
        400,
        306,
    )
)
"""The 2024 CWE Top 25 Most Dangerous Software Weaknesses, in rank order."""

_CWE_NUMBER = re.compile(r"^\s*(?:cwe)?[\s_:-]*0*(\d{1,5})\b", re.IGNORECASE)


def normalize_cwe(value: str | int | None) -> str | None:
    """``"CWE-020"``, ``89``, ``"cwe_89"``, ``"CWE-89: SQL Injection"`` -> ``"CWE-89"``.

    Returns ``None`` for ``None`` or anything without a CWE number.
    """
    if value is None or isinstance(value, bool):
        return None
    if isinstance(value, int):
        return f"CWE-{value}" if value > 0 else None
    m = _CWE_NUMBER.match(value)
    if m is None:
        return None
    n = int(m.group(1))
    return f"CWE-{n}" if n > 0 else None


def cwe_entry(cwe: str | None) -> CweEntry | None:
    """The catalog entry for ``cwe`` (any spelling ``normalize_cwe`` accepts)."""
    key = normalize_cwe(cwe)
    return CWE_CATALOG.get(key) if key else None
