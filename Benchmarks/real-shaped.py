#!/usr/bin/env python3
"""A real-shaped access log for Benchmarks/throughput.sh, written by a program that is not
logsurge's generator (whose shapes are what we assumed).

Combined format lines over DAYS days, shaped like a public site's log rather than a model of one:
- clients drawn from a Zipf law (s = 1.1) over 200,000 addresses, so a few hundred addresses
  send most requests and the long tail sends one or two each (heavy reuse, as NAT, proxies
  and returning visitors make it);
- 5 % of them IPv6 (in ranges the regional registries hand out, so they resolve);
- user agents as browsers send them today (120-160 bytes), with 15 % of the requests from
  crawlers (Googlebot, bingbot, AhrefsBot, SemrushBot, GPTBot, curl, python-requests);
- paths with query strings, static assets, referrers from search engines and the site itself,
  a few percent 404s and 304s, bytes from a heavy-tailed law;
- traffic by hour of the day (a day's peak twice its night) and bursty from minute to minute.

    Benchmarks/real-shaped.py LINES [SEED] > FILE

Deterministic for a seed; about 300 k lines a second.
"""

import random
import sys
import time

lines = int(sys.argv[1])
rng = random.Random(int(sys.argv[2]) if len(sys.argv) > 2 else 2016)

AGENTS = [
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36",
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36 Edg/131.0.0.0",
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/18.1 Safari/605.1.15",
    "Mozilla/5.0 (iPhone; CPU iPhone OS 18_1_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/18.1 Mobile/15E148 Safari/604.1",
    "Mozilla/5.0 (Linux; Android 14; SM-S918B) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.6778.81 Mobile Safari/537.36",
    "Mozilla/5.0 (X11; Linux x86_64; rv:133.0) Gecko/20100101 Firefox/133.0",
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:133.0) Gecko/20100101 Firefox/133.0",
    "Mozilla/5.0 (iPad; CPU OS 17_7 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) CriOS/131.0.6778.73 Mobile/15E148 Safari/604.1",
    "Mozilla/5.0 (Linux; Android 10; K) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Mobile Safari/537.36 OPR/86.0.0.0",
]
BOTS = [
    "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)",
    "Mozilla/5.0 AppleWebKit/537.36 (KHTML, like Gecko; compatible; bingbot/2.0; +http://www.bing.com/bingbot.htm) Chrome/116.0.1938.76 Safari/537.36",
    "Mozilla/5.0 (compatible; AhrefsBot/7.0; +http://ahrefs.com/robot/)",
    "Mozilla/5.0 (compatible; SemrushBot/7~bl; +http://www.semrush.com/bot.html)",
    "Mozilla/5.0 AppleWebKit/537.36 (KHTML, like Gecko; compatible; GPTBot/1.2; +https://openai.com/gptbot)",
    "curl/8.5.0",
    "python-requests/2.32.3",
]
PAGES = ["/", "/visas", "/visas/work", "/visas/visitor", "/study", "/residence", "/residence/skilled-migrant",
         "/news/2016/11/immigration-update", "/contact", "/fees", "/apply/online", "/search", "/about/offices"]
ASSETS = ["/static/css/main.4f2a9c.css", "/static/js/app.81be0d.js", "/static/js/vendor.0c1f3e.js",
          "/static/img/logo.svg", "/favicon.ico", "/static/fonts/inter-var.woff2", "/static/img/hero-1600.webp"]
REFERRERS = ["-", "https://www.google.com/", "https://www.bing.com/", "https://duckduckgo.com/",
             "https://www.immigration.example/", "https://www.immigration.example/visas", "https://t.co/abc123"]
MONTHS = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]

# Addresses: 5 % IPv6 in registry-allocated /32s, the rest IPv4 in public /8s.
V4_FIRST = [3, 8, 12, 23, 24, 31, 37, 45, 46, 49, 50, 58, 62, 66, 67, 68, 71, 73, 76, 77, 78, 79, 80, 81, 82, 83, 84,
            85, 86, 87, 88, 89, 90, 91, 92, 93, 94, 95, 96, 98, 99, 104, 107, 108, 109, 110, 112, 114, 115, 116, 117,
            118, 119, 121, 122, 123, 124, 125, 128, 129, 130, 131, 134, 137, 138, 139, 141, 142, 144, 145, 146, 147,
            148, 149, 151, 152, 154, 155, 156, 158, 159, 160, 161, 162, 163, 164, 165, 166, 168, 170, 171, 173, 174,
            175, 176, 177, 178, 179, 180, 181, 182, 183, 184, 185, 186, 187, 188, 189, 190, 191, 193, 194, 195, 196,
            197, 199, 200, 201, 202, 203, 206, 207, 208, 209, 210, 211, 212, 213, 216, 217, 218, 219, 220, 221, 222]
V6_PREFIX = ["2001:4860", "2a00:1450", "2a01:4f8", "2a02:2e0", "2404:6800", "2600:1f18", "2607:f8b0", "2800:3f0",
             "2c0f:fb50", "2a03:2880", "2001:470", "2406:da00"]
CLIENTS = 200_000
addresses = []
for _ in range(CLIENTS):
    if rng.random() < 0.05:
        addresses.append("%s:%x:%x:%x:%x:%x:%x" % (rng.choice(V6_PREFIX), *(rng.getrandbits(16) for _ in range(6))))
    else:
        addresses.append("%d.%d.%d.%d" % (rng.choice(V4_FIRST), rng.getrandbits(8), rng.getrandbits(8), rng.randint(1, 254)))
# Zipf weights over the clients (rank r has weight r^-1.1), drawn by cumulative sums.
weights = [r ** -1.1 for r in range(1, CLIENTS + 1)]
# Each client keeps one agent: 30 % of the 3,000 busiest are crawlers (crawlers are busy clients).
agents = [rng.choice(BOTS) if (r < 3000 and rng.random() < 0.3) else rng.choice(AGENTS) for r in range(CLIENTS)]

start = int(time.mktime((2016, 11, 1, 0, 0, 0, 0, 0, 0))) - time.timezone
days = max(1, lines // 400_000)
# Minutes' weights: a day's shape (night half the peak) times a gamma burst per minute.
minute_weights = []
for minute in range(days * 1440):
    hour = (minute // 60) % 24
    shape = 1.0 + 0.5 * (1 if 8 <= hour <= 22 else 0) + 0.3 * (1 if 18 <= hour <= 21 else 0)
    minute_weights.append(shape * rng.gammavariate(4.0, 0.25))
scale = lines / sum(minute_weights)
counts = [int(w * scale) for w in minute_weights]
counts[-1] += lines - sum(counts)

write = sys.stdout.write
batch = []
# Cumulative weights once: choices() then bisects.
cumulative = []
total = 0.0
for w in weights:
    total += w
    cumulative.append(total)
for minute, count in enumerate(counts):
    if count <= 0:
        continue
    t = time.gmtime(start + 60 * minute)
    stamp_prefix = "%02d/%s/%d:%02d:%02d:" % (t.tm_mday, MONTHS[t.tm_mon - 1], t.tm_year, t.tm_hour, t.tm_min)
    picks = rng.choices(range(CLIENTS), cum_weights=cumulative, k=count)
    seconds = sorted(rng.randrange(60) for _ in range(count))
    for client, second in zip(picks, seconds):
        agent = agents[client]
        bot = agent in BOTS
        if not bot and rng.random() < 0.45:
            path = rng.choice(ASSETS)
        else:
            path = rng.choice(PAGES)
            if rng.random() < 0.3:
                path += "?utm_source=%s&utm_medium=cpc&ref=%x" % (rng.choice(["google", "bing", "newsletter"]), rng.getrandbits(32))
        r = rng.random()
        status = 404 if r < 0.03 else 304 if r < 0.10 else 301 if r < 0.12 else 500 if r < 0.121 else 200
        size = 0 if status == 304 else int(rng.paretovariate(1.2) * 800)
        referrer = "-" if bot else rng.choice(REFERRERS)
        batch.append('%s - - [%s%02d +0000] "GET %s HTTP/1.1" %d %d "%s" "%s"\n'
                     % (addresses[client], stamp_prefix, second, path, status, size, referrer, agent))
    if len(batch) > 50_000:
        write("".join(batch))
        batch.clear()
write("".join(batch))
