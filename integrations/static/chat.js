// Web chat page. Resident and bot text is only ever set with textContent, never innerHTML.
(function () {
  "use strict";
  var TOKEN_KEY = "chatToken";
  var log = document.getElementById("log");
  var form = document.getElementById("chat-form");
  var box = document.getElementById("message");
  var sendButton = document.getElementById("send");
  var newChat = document.getElementById("new-chat");
  var status = document.getElementById("status");
  var sending = false;
  var pending = null; // the message being sent, so a retry reuses its id and is never taken twice

  function token() { return window.sessionStorage.getItem(TOKEN_KEY); }

  function say(who, text) {
    var item = document.createElement("div");
    item.className = "msg " + (who === "resident" ? "resident" : "bot");
    var label = document.createElement("span");
    label.className = "who";
    label.textContent = who === "resident" ? "You said: " : "We said: ";
    var body = document.createElement("span");
    body.className = "text";
    body.textContent = text;
    item.appendChild(label);
    item.appendChild(body);
    log.appendChild(item);
    item.scrollIntoView({ block: "nearest" });
  }

  function setStatus(text, isError) {
    status.textContent = text;
    status.className = "status" + (isError ? " error" : "");
  }

  function clientId() {
    if (window.crypto && window.crypto.randomUUID) { return window.crypto.randomUUID(); }
    return String(Date.now()) + "-" + String(Math.random()).slice(2);
  }

  function api(method, path, body) {
    var headers = { "Accept": "application/json" };
    if (body !== undefined) { headers["Content-Type"] = "application/json"; }
    if (token()) { headers["X-Chat-Token"] = token(); }
    return fetch(path, {
      method: method,
      headers: headers,
      body: body === undefined ? undefined : JSON.stringify(body),
      credentials: "same-origin"
    }).then(function (response) {
      return response.json().catch(function () { return {}; }).then(function (data) {
        if (!response.ok) {
          var error = new Error(data.detail || "Something went wrong. Please try again.");
          error.status = response.status;
          throw error;
        }
        return data;
      });
    });
  }

  function startSession() {
    return api("POST", "/chat/api/sessions", {}).then(function (data) {
      window.sessionStorage.setItem(TOKEN_KEY, data.token);
    });
  }

  function send(text, id, retried) {
    return api("POST", "/chat/api/messages", { text: text, client_id: id }).catch(function (error) {
      if (!retried && (error.status === 404 || error.status === 401)) {
        return startSession().then(function () { return send(text, id, true); });
      }
      throw error;
    });
  }

  function restore() {
    if (!token()) { return; }
    api("GET", "/chat/api/messages").then(function (data) {
      data.messages.forEach(function (m) { say(m.from, m.text); });
    }).catch(function (error) {
      if (error.status === 404 || error.status === 401) { window.sessionStorage.removeItem(TOKEN_KEY); }
    });
  }

  form.addEventListener("submit", function (event) {
    event.preventDefault();
    var text = box.value.trim();
    if (!text) {
      setStatus("Please type a message first.", true);
      box.focus();
      return;
    }
    if (sending) { return; }
    sending = true;
    sendButton.disabled = true;
    setStatus("Sending...", false);
    if (!pending || pending.text !== text) { pending = { text: text, id: clientId() }; }
    var id = pending.id;
    var ready = token() ? Promise.resolve() : startSession();
    ready.then(function () { return send(text, id, false); }).then(function (data) {
      pending = null;
      say("resident", text);
      box.value = "";
      data.replies.forEach(function (r) { say("bot", r.text); });
      setStatus("", false);
    }).catch(function (error) {
      setStatus(error.message + " Your message has not been lost: press Send to try again.", true);
    }).then(function () {
      sending = false;
      sendButton.disabled = false;
      box.focus();
    });
  });

  box.addEventListener("keydown", function (event) {
    if (event.key === "Enter" && !event.shiftKey && !event.isComposing) {
      event.preventDefault();
      form.requestSubmit ? form.requestSubmit() : sendButton.click();
    }
  });

  newChat.addEventListener("click", function () {
    window.sessionStorage.removeItem(TOKEN_KEY);
    Array.prototype.slice.call(log.querySelectorAll(".msg:not([data-greeting])")).forEach(function (item) { item.remove(); });
    setStatus("A new chat has started.", false);
    box.focus();
  });

  restore();
}());
