"""`oess read` in a real browser (issue #34): headless Chromium (Debian's chromium + chromedriver, Selenium).

usage: read_browser.py OESS WORKDIR [SCREENSHOT.png]

On 10 synthetic images: the server starts on a free port; the page shows one image at a time and nothing that
names it (no file name, manifest grade or other reader in the page, its API answers or the image URLs); the API
refuses an image not shown yet (403) and a grade for it. Then by keyboard: grade 4 images, go back once (the
page shows the grade given), grade it again (a different grade), grade 2 more; the server is killed (SIGKILL)
mid-way and started again: the page resumes at image 7 with 6 graded, the file already holding the 6; 4 more
grades; the CSV then holds the 10 grades pressed, one per image, in the reader's order, and `oess agreement`
reads it beside the manifest's own grades. A second server on the same port exits 1 naming the port.
"""
import json
import os
import signal
import subprocess
import sys
import urllib.error
import urllib.request

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))

from harness import Harness, rows  # noqa: E402
from selenium import webdriver  # noqa: E402
from selenium.webdriver.chrome.service import Service  # noqa: E402
from selenium.webdriver.common.by import By  # noqa: E402
from selenium.webdriver.common.keys import Keys  # noqa: E402
from selenium.webdriver.support.ui import WebDriverWait  # noqa: E402

oess, work = sys.argv[1], sys.argv[2]
shot = sys.argv[3] if len(sys.argv) > 3 else os.path.join(work, "read_page.png")
h = Harness(oess, work)
check, run = h.check, h.run
synth = os.path.join(work, "synth")
run("synth", "--out", synth, "--counts", "3,3,2,2", "--patients", "4", "--seed", "8", "--size", "192x144")
manifest = os.path.join(synth, "labels.csv")
labels = rows(manifest)
grades_csv = os.path.join(work, "grades.csv")


def start():
    p = subprocess.Popen([oess, "read", manifest, "--reader", "alice", "--out", grades_csv, "--port", "0"],
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    line = p.stdout.readline()
    if "http://127.0.0.1:" not in line:
        print(line, p.stderr.read())
        sys.exit("FAIL: oess read did not start")
    return p, int(line.split("http://127.0.0.1:")[1].split("/")[0])


def get(port, path):
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}") as r:
            return r.status, r.read()
    except urllib.error.HTTPError as e:
        return e.code, e.read()


def post(port, body):
    req = urllib.request.Request(f"http://127.0.0.1:{port}/api/grade", data=body.encode(), method="POST",
                                 headers={"Content-Type": "application/x-www-form-urlencoded"})
    try:
        with urllib.request.urlopen(req) as r:
            return r.status, r.read()
    except urllib.error.HTTPError as e:
        return e.code, e.read()


opts = webdriver.ChromeOptions()
for arg in ("--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--window-size=1000,760"):
    opts.add_argument(arg)
opts.binary_location = "/usr/bin/chromium"
driver = webdriver.Chrome(options=opts, service=Service("/usr/bin/chromedriver"))
server, port = start()
pressed = {}  # position -> grade


def wait_for(position, graded):
    WebDriverWait(driver, 10).until(
        lambda d: d.find_element(By.TAG_NAME, "body").get_attribute("data-position") == str(position)
        and d.find_element(By.TAG_NAME, "body").get_attribute("data-graded") == str(graded)
        and d.execute_script("const i = document.getElementById('image'); return i.complete && i.naturalWidth > 0;"))


def press(key):
    driver.find_element(By.TAG_NAME, "body").send_keys(key)


try:
    driver.get(f"http://127.0.0.1:{port}/")
    wait_for(0, 0)
    # Blinding: nothing the page receives names the image or its grades.
    page = driver.page_source + get(port, "/api/state")[1].decode() + get(port, "/api/show?i=0")[1].decode()
    leaks = [w for w in ["images/", ".png\"", "score", "true_score", "patient", "P01"] + [r["path"] for r in labels]
             if w in page]
    check(not leaks and "Image 1 of 10" in driver.page_source, f"the page shows image 1 of 10 and nothing naming it {leaks}")
    status, _ = get(port, "/image?i=5")
    status2, text = post(port, "i=5&grade=2")
    check(status == 403 and status2 == 403 and b"not shown" in text,
          f"an image not shown yet is refused ({status}), and a grade for it ({status2}: {text[:80]})")
    for pos, g in enumerate([0, 3, 1, 2]):
        press(str(g))
        pressed[pos] = g
        wait_for(pos + 1, pos + 1)
    press(Keys.ARROW_LEFT)
    wait_for(3, 4)
    check("your grade: 2" in driver.find_element(By.ID, "current").text, "going back shows the grade given")
    press("3")  # a new grade for image 4, then on to image 5
    pressed[3] = 3
    wait_for(4, 4)
    for pos, g in ((4, 1), (5, 0)):
        press(str(g))
        pressed[pos] = g
        wait_for(pos + 1, pos + 1)
    driver.save_screenshot(shot)
    saved = rows(grades_csv)
    check([int(r["grade"]) for r in saved] == [pressed[k] for k in range(6)],
          f"the file holds every grade given so far, the changed one too ({[r['grade'] for r in saved]})")
    server.send_signal(signal.SIGKILL)
    server.wait()
    server, port = start()
    driver.get(f"http://127.0.0.1:{port}/")
    wait_for(6, 6)
    check("Image 7 of 10" in driver.page_source, "after a killed server, the page resumes at image 7 with 6 graded")
    for pos, g in ((6, 2), (7, 3), (8, 1), (9, 2)):
        press(str(g))
        pressed[pos] = g
        if pos < 9:
            wait_for(pos + 1, pos + 1)
    WebDriverWait(driver, 10).until(lambda d: "All 10 images graded" in d.page_source)
    final = rows(grades_csv)
    paths = {os.path.abspath(os.path.join(synth, r["path"])) for r in labels}
    check(len(final) == 10 and {r["path"] for r in final} == paths and {r["reader"] for r in final} == {"alice"}
          and [int(r["grade"]) for r in final] == [pressed[k] for k in range(10)],
          f"the CSV: 10 images, one grade each, the grades pressed in order ({[r['grade'] for r in final]})")
    # A second server on the same port.
    p2 = subprocess.run([oess, "read", manifest, "--reader", "bob", "--out", os.path.join(work, "bob.csv"), "--port",
                         str(port)], capture_output=True, text=True, timeout=30)
    check(p2.returncode == 1 and f"port {port}" in p2.stderr and "in use" in p2.stderr,
          f"a port in use: exit 1 naming it ({p2.returncode}: {p2.stderr.strip()[-120:]})")
finally:
    driver.quit()
    server.send_signal(signal.SIGTERM)
    server.wait()

# oess agreement reads the file beside the manifest's own grades (score as a column of readers).
out = os.path.join(work, "agreement.json")
run("agreement", manifest, "--readers", "score,true_score", "--grades", grades_csv, "--json", out, "--bootstrap", "50")
a = json.load(open(out))
check(a["readers"] == ["score", "true_score", "alice"] and a["grade_counts"]["alice"]["graded"] == 10,
      f"oess agreement reads alice's file beside the manifest's columns ({a['readers']})")
h.finish()
