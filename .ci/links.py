#!/usr/bin/env python3
"""Internal links of the built book (issue 22), checked on every CI run after `mdbook build docs`:
every relative href and src in docs/book/**/*.html names a file that exists, and every #anchor (on another page or
the same one) is an id or name in the target page. Links with a scheme (https:, mailto:) are not followed.
Exits 1 and lists each broken link with the page it is on."""
import html.parser
import os
import sys
import urllib.parse

BOOK = sys.argv[1] if len(sys.argv) > 1 else "docs/book"


class Page(html.parser.HTMLParser):
    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.links = []
        self.ids = set()
        self.base = None

    def handle_starttag(self, tag, attrs):
        for name, value in attrs:
            if value is None:
                continue
            if tag == "base" and name == "href":
                self.base = value
                continue
            if name in ("id",) or (tag == "a" and name == "name"):
                self.ids.add(value)
            if name in ("href", "src"):
                self.links.append(value)


def parse(path, cache={}):
    if path not in cache:
        page = Page()
        with open(path, encoding="utf-8") as f:
            page.feed(f.read())
        cache[path] = page
    return cache[path]


def main():
    if not os.path.isdir(BOOK):
        print(f"links: {BOOK} does not exist; run `mdbook build docs` first", file=sys.stderr)
        return 1
    pages = sorted(
        os.path.join(root, n) for root, _, names in os.walk(BOOK) for n in names if n.endswith(".html")
    )
    broken = []
    checked = 0
    for page in pages:
        for link in parse(page).links:
            url = urllib.parse.urlsplit(link)
            if url.scheme or url.netloc or link.startswith("javascript:"):
                continue
            checked += 1
            # A root-relative path, or any path on a page with <base href="/"> (mdBook's 404 page), is read from
            # the book's top, where the site is served.
            base = parse(page).base
            if url.path.startswith("/"):
                here, path = BOOK, url.path.lstrip("/")
            elif base is not None and base.startswith("/"):
                here, path = os.path.join(BOOK, base.lstrip("/")), url.path
            else:
                here, path = os.path.dirname(page), url.path
            target = page if not url.path else os.path.normpath(os.path.join(here, urllib.parse.unquote(path)))
            if os.path.isdir(target):
                target = os.path.join(target, "index.html")
            rel = os.path.relpath(page, BOOK)
            if not os.path.isfile(target):
                broken.append(f"{rel}: {link}: no file {os.path.relpath(target, BOOK)}")
                continue
            anchor = urllib.parse.unquote(url.fragment)
            if anchor and target.endswith(".html") and anchor not in parse(target).ids:
                broken.append(f"{rel}: {link}: no id \"{anchor}\" in {os.path.relpath(target, BOOK)}")
    if broken:
        print(f"links: {len(broken)} broken internal link(s) in {BOOK}:", file=sys.stderr)
        for b in broken:
            print(f"  {b}", file=sys.stderr)
        return 1
    print(f"links: {checked} internal links in {len(pages)} pages, all resolve")
    return 0


if __name__ == "__main__":
    sys.exit(main())
