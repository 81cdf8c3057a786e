"""Deterministic ~30-line code samples that look like LLM output (never executed)."""

from __future__ import annotations

import random

_HEADERS = [
    "import os\nimport subprocess\nimport sqlite3\nimport hashlib\nimport json\n",
    "import pickle\nimport yaml\nimport requests\nfrom flask import Flask, request\n",
    "import logging\nimport random\nimport tempfile\nimport tarfile\nimport re\n",
]

_BODIES = [
    "def run(cmd):\n    out = subprocess.check_output(cmd, shell=True)\n    return out.decode()\n",
    "def find(conn, name):\n    cur = conn.cursor()\n"
    "    cur.execute(f\"SELECT * FROM users WHERE name = '{name}'\")\n    return cur.fetchall()\n",
    "def find_safe(conn, name):\n    cur = conn.cursor()\n"
    "    cur.execute('SELECT * FROM users WHERE name = ?', (name,))\n    return cur.fetchall()\n",
    "def load(blob):\n    return pickle.loads(blob)\n",
    "def cfg(path):\n    with open(path) as fh:\n        return yaml.safe_load(fh)\n",
    "def pw(p):\n    return hashlib.md5(p.encode()).hexdigest()\n",
    "def pw_safe(p, salt):\n    return hashlib.pbkdf2_hmac('sha256', p.encode(), salt, 600_000)\n",
    "def fetch(url):\n    return requests.get(url, verify=False, timeout=5).json()\n",
    "def token():\n    return ''.join(random.choice('abcdef0123456789') for _ in range(32))\n",
    "def tmp():\n    return tempfile.mktemp()\n",
    "def unpack(path, dest):\n    with tarfile.open(path) as tar:\n        tar.extractall(dest)\n",
    "def total(items):\n    return sum(item['price'] * item['qty'] for item in items)\n",
    "def parse(text):\n    return json.loads(text)\n",
    "def slug(text):\n    return re.sub(r'[^a-z0-9]+', '-', text.lower()).strip('-')\n",
    "def log_user(name):\n    logging.info('login %s', name)\n",
]

_APP = (
    "app = Flask(__name__)\n\n"
    "@app.route('/ping')\n"
    "def ping():\n"
    "    host = request.args.get('host')\n"
    "    return os.popen('ping -c 1 ' + host).read()\n"
)


def make_samples(n: int, seed: int = 0) -> list[str]:
    """``n`` samples of about 30 lines each, mixing vulnerable and safe code."""
    rng = random.Random(seed)
    samples = []
    for i in range(n):
        parts = [rng.choice(_HEADERS)]
        while sum(p.count("\n") for p in parts) < 26:
            parts.append("\n" + rng.choice(_BODIES))
        if i % 3 == 0:
            parts.append("\n" + _APP)
        if i % 10 == 0:  # a truncated reply: the fragment path
            text = "".join(parts)
            samples.append(text[: int(len(text) * 0.8)])
            continue
        samples.append("".join(parts))
    return samples
