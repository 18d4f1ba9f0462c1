"""A real browser over oess's HTML files (headless Chromium through chromium-driver and Selenium, both Debian
packages the set-up installs): open a page, collect the console's errors, which images loaded, headings and
tables.

    from browser import open_page
    page = open_page("/abs/path/report.html")
    page["errors"]   # console messages of level SEVERE (failed loads, script errors)
    page["images"]   # [(alt, loaded)] for every <img>: loaded = complete and naturalWidth > 0
    page["headings"] # the h1/h2 texts
    page["tables"]   # per <table>, its header cells
"""
import os

from selenium import webdriver
from selenium.webdriver.chrome.service import Service


def open_page(path):
    opts = webdriver.ChromeOptions()
    for arg in ("--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage"):
        opts.add_argument(arg)
    opts.binary_location = "/usr/bin/chromium"
    opts.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(options=opts, service=Service("/usr/bin/chromedriver"))
    try:
        driver.get("file://" + os.path.abspath(path))
        images = driver.execute_script(
            "return Array.from(document.images).map(i => [i.alt, i.complete && i.naturalWidth > 0]);")
        headings = driver.execute_script(
            "return Array.from(document.querySelectorAll('h1, h2')).map(h => h.textContent);")
        tables = driver.execute_script(
            "return Array.from(document.querySelectorAll('table')).map(t => Array.from(t.querySelectorAll('th'))"
            ".map(c => c.textContent));")
        errors = [e["message"] for e in driver.get_log("browser") if e.get("level") == "SEVERE"]
        return {"errors": errors, "images": [tuple(i) for i in images], "headings": headings, "tables": tables}
    finally:
        driver.quit()
