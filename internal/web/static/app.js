// agent-trace dashboard: local timestamps, j/k navigation and live updates over SSE.
// No framework and no inline script: the Content-Security-Policy forbids both.
(function () {
  "use strict";

  // This year's dates leave the year out; older ones keep it.
  var thisYear = new Intl.DateTimeFormat(undefined, {
    month: "short", day: "numeric", hour: "2-digit", minute: "2-digit"
  });
  var otherYear = new Intl.DateTimeFormat(undefined, {
    year: "numeric", month: "short", day: "numeric", hour: "2-digit", minute: "2-digit"
  });
  var timeFormat = { format: function (d) {
    return (d.getFullYear() === new Date().getFullYear() ? thisYear : otherYear).format(d);
  } };

  // localTimes rewrites <time datetime> elements (rendered in UTC) in the viewer's zone.
  function localTimes(root) {
    var els = root.querySelectorAll("time[datetime]");
    for (var i = 0; i < els.length; i++) {
      var d = new Date(els[i].getAttribute("datetime"));
      if (isNaN(d.getTime())) continue;
      if (!els[i].title) els[i].title = els[i].textContent;
      els[i].textContent = timeFormat.format(d);
    }
  }

  // Keyboard: j/k move between prompt cards on the replay page.
  function prompts() { return Array.prototype.slice.call(document.querySelectorAll("article.prompt")); }
  var current = -1;
  function move(delta) {
    var list = prompts();
    if (!list.length) return;
    if (current < 0 || current >= list.length) {
      // Start from the card nearest the top of the viewport.
      current = 0;
      for (var i = 0; i < list.length; i++) {
        if (list[i].getBoundingClientRect().top > 1) { current = delta > 0 ? i - 1 : i; break; }
        current = i;
      }
    }
    current = Math.max(0, Math.min(list.length - 1, current + delta));
    for (var j = 0; j < list.length; j++) list[j].classList.toggle("current", j === current);
    list[current].focus({ preventScroll: true });
    list[current].scrollIntoView({ block: "start", behavior: "smooth" });
  }
  document.addEventListener("keydown", function (e) {
    if (e.altKey || e.ctrlKey || e.metaKey) return;
    var t = e.target;
    if (t && (t.isContentEditable || /^(INPUT|TEXTAREA|SELECT)$/.test(t.tagName))) return;
    if (e.key === "j") { move(1); e.preventDefault(); }
    else if (e.key === "k") { move(-1); e.preventDefault(); }
  });

  // swap re-fetches a server-rendered fragment and replaces the element in place,
  // keeping what the reader had opened.
  var inflight = {};
  function swap(id) {
    var el = document.getElementById(id);
    if (!el || inflight[id]) return;
    var url = el.getAttribute("data-fragment");
    if (!url) return;
    inflight[id] = true;
    fetch(url, { headers: { "Accept": "text/html" }, credentials: "same-origin" })
      .then(function (r) {
        // Logged out or the token was revoked: reloading lands on the login form.
        if (r.status === 401) { location.reload(); throw new Error("logged out"); }
        if (!r.ok) throw new Error("HTTP " + r.status);
        return r.text();
      })
      .then(function (html) {
        var doc = new DOMParser().parseFromString(html, "text/html");
        var fresh = doc.getElementById(id);
        var old = document.getElementById(id);
        if (!fresh || !old) return;
        var open = {};
        var opened = old.querySelectorAll("details[open][id]");
        for (var i = 0; i < opened.length; i++) open[opened[i].id] = true;
        var before = {};
        var rows = old.querySelectorAll("tr[data-session]");
        for (var k = 0; k < rows.length; k++) before[rows[k].getAttribute("data-session")] = rows[k].textContent;
        fresh = document.importNode(fresh, true);
        var ds = fresh.querySelectorAll("details[id]");
        for (var j = 0; j < ds.length; j++) if (open[ds[j].id]) ds[j].open = true;
        var fr = fresh.querySelectorAll("tr[data-session]");
        for (var m = 0; m < fr.length; m++) {
          var sid = fr[m].getAttribute("data-session");
          if (before[sid] !== fr[m].textContent) fr[m].classList.add("flash");
        }
        localTimes(fresh);
        old.replaceWith(fresh);
        lazyHighlight();
        if (current >= 0) {
          var list = prompts();
          if (list[current]) list[current].classList.add("current");
        }
      })
      .catch(function () { /* the next event or reconnect tries again */ })
      .then(function () {
        inflight[id] = false;
        if (pending[id]) { pending[id] = false; schedule(id); }
      });
  }

  // schedule coalesces bursts (a tool call is two or three events) into one fetch.
  var timers = {}, pending = {};
  function schedule(id) {
    if (inflight[id]) { pending[id] = true; return; }
    if (timers[id]) return;
    timers[id] = setTimeout(function () { timers[id] = null; swap(id); }, 120);
  }

  // sessionOf finds which session a change is about: session.* events carry the session
  // summary (its id), the others a session_id.
  function sessionOf(e) {
    try {
      var d = JSON.parse(e.data);
      if (d && typeof d === "object") {
        if (/^session\./.test(e.type) && d.id) return d.id;
        return d.session_id || d.SessionID || "";
      }
    } catch (err) { /* not JSON: treat as "something changed" */ }
    return "";
  }

  function onChange(e) {
    if (document.getElementById("session-list")) schedule("session-list");
    var body = document.getElementById("session-body");
    if (body) {
      var sid = sessionOf(e);
      if (!sid || sid === body.getAttribute("data-session")) schedule("session-body");
    }
  }

  function setStatus(state) {
    var s = document.getElementById("live-status");
    if (s) s.setAttribute("data-state", state);
    document.documentElement.setAttribute("data-live", state);
  }

  // live follows the SSE stream. EventSource retries by itself after a dropped
  // connection; when the browser gives up (the server answered with an error while
  // restarting) we open a new one with a capped backoff. Every (re)connect refreshes
  // the page's fragment, so nothing published while we were away is missed.
  // resync: the hub no longer holds what we missed (a restart, a long absence): refetch.
  var types = ["session.created", "session.updated", "session.deleted", "prompt.created",
    "tool_call.updated", "resync", "message"];
  function live(url) {
    var delay = 500, es = null, seenOpen = false;
    function connect() {
      es = new EventSource(url);
      es.onopen = function () {
        delay = 500;
        setStatus("open");
        if (seenOpen) onChange({ type: "resync", data: "" });
        seenOpen = true;
      };
      es.onerror = function () {
        setStatus("error");
        if (es.readyState === EventSource.CLOSED) {
          es.close();
          setTimeout(connect, delay);
          delay = Math.min(delay * 2, 10000);
        }
      };
      for (var i = 0; i < types.length; i++) es.addEventListener(types[i], onChange);
    }
    connect();
    window.addEventListener("pagehide", function () { if (es) es.close(); });
  }

  // Long replays arrive with only their first commands and diffs highlighted; the rest
  // are plain (pre.plain) until they come near the viewport, when the highlighted blocks
  // are fetched in batches and swapped in.
  var wanted = {}, batchTimer = null, observer = null;
  function flushHighlights() {
    batchTimer = null;
    var body = document.getElementById("session-body");
    var ids = Object.keys(wanted);
    if (!body || !ids.length) return;
    wanted = {};
    for (var i = 0; i < ids.length; i += 64) {
      var chunk = ids.slice(i, i + 64);
      var q = chunk.map(function (id) { return "call=" + encodeURIComponent(id); }).join("&");
      fetch("/sessions/" + encodeURIComponent(body.getAttribute("data-session")) + "/highlight?" + q,
        { headers: { "Accept": "text/html" }, credentials: "same-origin" })
        .then(function (r) { if (!r.ok) throw new Error("HTTP " + r.status); return r.text(); })
        .then(function (html) {
          var doc = new DOMParser().parseFromString(html, "text/html");
          var divs = doc.querySelectorAll("div[id^='hl-']");
          for (var j = 0; j < divs.length; j++) {
            var li = document.getElementById("call-" + divs[j].id.slice(3));
            if (!li) continue;
            var fresh = divs[j].querySelectorAll("pre");
            for (var k = 0; k < fresh.length; k++) {
              var kind = fresh[k].classList.contains("diff") ? "diff" : "shell";
              var old = li.querySelector(":scope > pre.plain." + kind);
              if (old) old.replaceWith(document.importNode(fresh[k], true));
            }
          }
        })
        .catch(function () { /* stays plain: still readable */ });
    }
  }
  // lazyHighlight (re)starts watching every plain block; a swapped-in body replaced the
  // blocks watched before.
  function lazyHighlight() {
    if (!window.IntersectionObserver) return;
    if (observer) observer.disconnect();
    if (!observer) {
      observer = new IntersectionObserver(function (entries) {
        for (var i = 0; i < entries.length; i++) {
          if (!entries[i].isIntersecting) continue;
          observer.unobserve(entries[i].target);
          var li = entries[i].target.closest("li.call");
          if (li && li.id.indexOf("call-") === 0) wanted[li.id.slice(5)] = true;
        }
        if (!batchTimer) batchTimer = setTimeout(flushHighlights, 30);
      }, { rootMargin: "1200px 0px" });
    }
    var pres = document.querySelectorAll("li.call > pre.plain");
    for (var i = 0; i < pres.length; i++) observer.observe(pres[i]);
  }

  function start() {
    localTimes(document);
    lazyHighlight();
    var url = document.body.getAttribute("data-live");
    if (url && window.EventSource) live(url);
  }
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", start);
  else start();
})();
