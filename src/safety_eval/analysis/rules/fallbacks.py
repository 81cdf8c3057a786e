"""Text fallbacks: regexes that stand in for AST rules on lines no tree covers.

They only run when the code did not parse completely (``recovered`` or ``text-only``)
and only on lines outside every recovered statement, with low confidence.
"""

from __future__ import annotations

from safety_eval.analysis.rules.patterns import register_fallbacks
from safety_eval.analysis.rules.registry import TextFallback

_DYNAMIC_ARG = (
    r"\(\s*(?:f[\"']|[A-Za-z_][\w.\[\]'\"]*\s*[,+%)]|[\"'][^\"']*[\"']\s*(?:%|\+|\.format))"
)

FALLBACKS: list[TextFallback] = [
    TextFallback("SE101", r"subprocess\.\w+" + _DYNAMIC_ARG + r".*shell\s*=\s*True", "shell"),
    TextFallback("SE102", r"\bos\.(?:system|popen)" + _DYNAMIC_ARG, "os."),
    TextFallback(
        "SE110",
        r"\.execute(?:many)?\(\s*(?:f[\"'].*\{|[\"'][^\"']*[\"']\s*(?:%|\+|\.format))",
        "execute",
    ),
    TextFallback("SE120", r"\beval\(\s*(?![\"'\s)])", "eval("),
    TextFallback("SE121", r"\bexec\(\s*(?![\"'\s)])", "exec("),
    TextFallback("SE150", r"render_template_string\(\s*(?![\"'\s)])", "render_template_string"),
    TextFallback("SE302", r"\b(?:c?pickle|dill|marshal)\.loads?\(", "load"),
    TextFallback("SE303", r"\byaml\.(?:unsafe_)?load\((?![^)]*Safe)", "yaml."),
    TextFallback(
        "SE401",
        r"(?i)\b\w*pass(?:word|wd)\w*\s*[:=]\s*[\"'][^\"'\s{}<>$%]{3,}[\"']",
        "pass",
    ),
    TextFallback(
        "SE402",
        r"(?i)\b\w*(?:api_?key|secret_?key|access_?token|auth_?token|secret)\s*[:=]\s*"
        r"[\"'][^\"'\s{}<>$%]{8,}[\"']",
        "",
    ),
    TextFallback("SE406", r"[a-z][a-z0-9+.-]*://[^:/@\s\"']+:[^@/\s{$<*\"']+@", "://"),
    TextFallback("SE501", r"\bverify\s*=\s*False", "verify"),
    TextFallback("SE502", r"ssl\._create_unverified_context", "_create_unverified_context"),
    TextFallback("SE503", r"\bCERT_NONE\b", "cert_none"),
    TextFallback("SE604", r"\btempfile\.mktemp\(", "mktemp"),
    TextFallback("SE605", r"chmod\([^)]*\b0o?[0-7]?[0-7][0-7][2367]\b", "chmod"),
    TextFallback("SE701", r"\.run\([^)]*\bdebug\s*=\s*True", "debug"),
    TextFallback("SE903", r"[\"']verify_signature[\"']\s*:\s*False", "verify_signature"),
]
register_fallbacks(FALLBACKS)
