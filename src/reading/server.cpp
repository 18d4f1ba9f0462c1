// `oess read`'s web side: the grading page and its small API on cpp-httplib (Debian's libcpp-httplib), one
// translation unit compiled with the library's own flags (CMakeLists.txt: oess_http). reading/session.h.
#include <fmt/format.h>
#include <httplib.h>

#include <mutex>
#include <string>

#include "oess/core/error.h"
#include "oess/reading/session.h"

namespace oess::reading {
namespace {

// The page: one image at a time, grades by click or key, back and forward, nothing else shown.
constexpr const char* kPage = R"HTML(<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>oess read</title>
<style>
body{font-family:sans-serif;margin:1em auto;max-width:980px;color:#222;text-align:center}
#image{height:60vh;max-width:100%;object-fit:contain;border:1px solid #ccc;background:#000}
button{font-size:1.4em;width:3.2em;margin:0.3em;padding:0.3em;border:2px solid #888;border-radius:6px;background:#f6f6f6}
button.chosen{background:#2b6cb0;color:#fff;border-color:#2b6cb0}
#message{color:#b00020;min-height:1.2em}.help{color:#666;font-size:0.9em}
</style></head><body>
<h1>Grading as <span id="reader"></span></h1>
<p id="progress">loading</p>
<img id="image" alt="the image to grade">
<div id="buttons"><button data-g="0">0</button><button data-g="1">1</button><button data-g="2">2</button><button data-g="3">3</button></div>
<p id="current"></p>
<p id="message"></p>
<p class="help">OESS Doppler grade 0-3: click, or press 0, 1, 2, 3 (then the next image comes). &larr; back, &rarr; forward.
Every grade is saved at once; close the page at any time and start <code>oess read</code> again to go on.</p>
<script>
"use strict";
let pos = 0, total = 0, frontier = 0, busy = false;
const $ = (id) => document.getElementById(id);
function say(t) { $("message").textContent = t; }
function draw(s) {
  pos = s.position; total = s.total; frontier = s.frontier;
  $("reader").textContent = s.reader;
  if (s.frontier >= s.total && s.graded === s.total && s.position >= s.total) {
    $("progress").textContent = `All ${s.total} images graded. Thank you: the grades are saved.`;
    $("image").style.display = "none"; $("current").textContent = ""; return;
  }
  $("image").style.display = "";
  $("image").src = "/image?i=" + s.position + "&v=" + Date.now();
  $("progress").textContent = `Image ${s.position + 1} of ${s.total} \u00b7 ${s.graded} graded`;
  $("current").textContent = s.grade === null ? "not graded yet" : `your grade: ${s.grade}`;
  for (const b of document.querySelectorAll("#buttons button")) b.classList.toggle("chosen", String(s.grade) === b.dataset.g);
  document.body.dataset.position = s.position; document.body.dataset.graded = s.graded;
}
async function show(p) {
  if (p >= total && total > 0) { draw({reader: $("reader").textContent, total, graded: total, frontier, position: total, grade: null}); return; }
  const r = await fetch("/api/show?i=" + p);
  if (!r.ok) { say(await r.text()); return; }
  say(""); draw(await r.json());
}
async function grade(g) {
  if (busy || pos >= total) return;
  busy = true;
  try {
    const r = await fetch("/api/grade", {method: "POST", headers: {"Content-Type": "application/x-www-form-urlencoded"},
                                         body: `i=${pos}&grade=${g}`});
    if (!r.ok) { say(await r.text()); return; }
    const s = await r.json();
    frontier = s.frontier;
    await show(Math.min(pos + 1, s.frontier >= s.total ? s.total : Math.max(s.frontier, pos + 1)));
  } finally { busy = false; }
}
document.addEventListener("keydown", (e) => {
  if (["0", "1", "2", "3"].includes(e.key)) grade(Number(e.key));
  else if ((e.key === "ArrowLeft" || e.key === "Backspace") && pos > 0) show(pos - 1);
  else if (e.key === "ArrowRight" && pos + 1 <= frontier && pos + 1 <= total) show(pos + 1);
});
for (const b of document.querySelectorAll("#buttons button")) b.addEventListener("click", () => grade(Number(b.dataset.g)));
fetch("/api/state").then((r) => r.json()).then((s) => { total = s.total; frontier = s.frontier; $("reader").textContent = s.reader; return show(s.frontier); });
</script></body></html>
)HTML";

bool position_of(const httplib::Request& req, size_t& pos) {
  if (!req.has_param("i")) return false;
  const std::string v = req.get_param_value("i");
  if (v.empty() || v.find_first_not_of("0123456789") != std::string::npos || v.size() > 9) return false;
  pos = static_cast<size_t>(std::stoul(v));
  return true;
}

void refuse(httplib::Response& res, int status, const std::string& why) {
  res.status = status;
  res.set_content(why, "text/plain; charset=utf-8");
}

}  // namespace

void serve(Session& s, const std::string& host, int port, const std::function<void(int)>& listening) {
  httplib::Server server;
  // SO_REUSEADDR only: the library's default adds SO_REUSEPORT, which lets a second server bind a port in use
  // (and split the requests between them).
  server.set_socket_options([](socket_t sock) {
    int yes = 1;
    setsockopt(sock, SOL_SOCKET, SO_REUSEADDR, reinterpret_cast<const char*>(&yes), sizeof(yes));
  });
  std::mutex m;
  server.Get("/", [](const httplib::Request&, httplib::Response& res) {
    res.set_content(kPage, "text/html; charset=utf-8");
  });
  server.Get("/api/state", [&](const httplib::Request&, httplib::Response& res) {
    std::lock_guard<std::mutex> lock(m);
    res.set_content(s.state_json(s.frontier()), "application/json");
  });
  server.Get("/api/show", [&](const httplib::Request& req, httplib::Response& res) {
    std::lock_guard<std::mutex> lock(m);
    size_t pos = 0;
    if (!position_of(req, pos)) return refuse(res, 400, "i: an image position");
    if (!s.show(pos))
      return refuse(res, 403,
                    fmt::format("image {} is not yours to see yet: grade the images before it", pos + 1));
    res.set_header("Cache-Control", "no-store");
    res.set_content(s.state_json(pos), "application/json");
  });
  server.Get("/image", [&](const httplib::Request& req, httplib::Response& res) {
    std::lock_guard<std::mutex> lock(m);
    size_t pos = 0;
    if (!position_of(req, pos)) return refuse(res, 400, "i: an image position");
    try {
      res.set_header("Cache-Control", "no-store");
      res.set_content(s.png(pos), "image/png");
    } catch (const Refused& e) {
      refuse(res, 403, e.what());
    } catch (const std::exception& e) {
      refuse(res, 500, e.what());
    }
  });
  server.Post("/api/grade", [&](const httplib::Request& req, httplib::Response& res) {
    std::lock_guard<std::mutex> lock(m);
    size_t pos = 0;
    if (!position_of(req, pos) || !req.has_param("grade")) return refuse(res, 400, "i and grade are needed");
    const std::string g = req.get_param_value("grade");
    if (g.size() != 1 || g[0] < '0' || g[0] > '9')
      return refuse(res, 403, fmt::format("grade \"{}\": OESS grades are 0 to 3", g));
    try {
      s.grade(pos, g[0] - '0');
      res.set_content(s.state_json(pos), "application/json");
    } catch (const Refused& e) {
      refuse(res, 403, e.what());
    } catch (const std::exception& e) {
      refuse(res, 500, fmt::format("the grade was not saved: {}", e.what()));
    }
  });
  int bound = port;
  if (port == 0)
    bound = server.bind_to_any_port(host);
  else if (!server.bind_to_port(host, port))
    bound = -1;
  if (bound <= 0)
    throw Error(
        fmt::format("port {} on {} is in use (or not allowed): choose another with --port", port, host));
  if (listening) listening(bound);
  if (!server.listen_after_bind())
    throw Error(fmt::format("the server on {}:{} stopped with an error", host, bound));
}

}  // namespace oess::reading
