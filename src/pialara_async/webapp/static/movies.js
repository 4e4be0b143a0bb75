// Movies: search by title text, cast or genre with paging; a movie page whose
// comments follow the live feed ("movie:{id}:comments"), where a signed-in
// person posts, edits and deletes their own.
import { call, present, query } from "/app/api.js";
import {
  choice, clearErrors, element, field, formStatus, formValues, pager, refusalText, showErrors,
  textarea,
} from "/app/dom.js";

const KINDS = { text: "byText", cast: "byCast", genre: "byGenre" };
let genreNames = null; // fetched once per page load

function when(value, render) {
  return present(value) ? render(value) : null;
}

// The API's "YYYY-MM-DD HH:MM:SS" (UTC) in the reader's language.
function shownDate(value, language) {
  const moment = new Date(`${String(value).replace(" ", "T")}Z`);
  return Number.isNaN(moment.getTime()) ? String(value ?? "")
    : moment.toLocaleString(language, { dateStyle: "medium", timeStyle: "short" });
}

export async function search(app, params, search) {
  const { t } = app;
  const by = search.get("by") in KINDS ? search.get("by") : "text";
  const terms = (search.get("terms") || "").trim();
  const page = Math.max(0, Math.min(500, parseInt(search.get("page"), 10) || 0));
  const values = by === "text" ? [terms] : terms.split(",").map((s) => s.trim()).filter(Boolean);
  const path = terms
    ? `/movies/search?${new URLSearchParams([...values.map((v) => [by, v]), ["page", page]])}`
    : `/movies/${query({ page: page || "" })}`;
  genreNames ??= call("GET", "/movies/genres").then((answer) => answer.genres.map((g) => g._id));
  const [found, genres] = await Promise.all([call("GET", path), genreNames]);

  const form = element("form", { role: "search", class: "filters" },
    field("terms", t("searchTerms"), { type: "search", value: terms }),
    choice("by", t("searchBy"), Object.entries(KINDS).map(([kind, key]) => [kind, t(key)]), by),
    element("datalist", { id: "genre-names" }, genres.map((g) => element("option", { value: g }))),
    element("button", { type: "submit" }, t("search")));
  // The genres as suggestions, when searching by genre.
  const suggest = () => {
    if (form.elements.by.value === "genre") form.elements.terms.setAttribute("list", "genre-names");
    else form.elements.terms.removeAttribute("list");
  };
  form.elements.by.addEventListener("change", suggest);
  suggest();
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    const chosen = formValues(form);
    app.go(`#/movies${query({ by: chosen.by === "text" ? "" : chosen.by, terms: chosen.terms.trim() })}`);
  });

  const hrefFor = (n) => `#/movies${query({ by: by === "text" ? "" : by, terms, page: n || "" })}`;
  const items = found.movies.map((movie) => element("li", { class: "card" },
    element("a", { href: `#/movies/${movie._id}` }, element("strong", {}, movie.title)),
    element("span", { class: "meta" },
      [movie.year, (movie.genres || []).join(", "), when(movie.imdb?.rating, (r) => `IMDb ${r}`)]
        .filter(Boolean).join(" · "))));
  return element("section", {},
    element("h1", {}, t("movies")), form,
    element("div", { id: "movie-results" },
      items.length ? element("ul", { class: "movies" }, items) : element("p", {}, t("noResults")),
      pager(t, page, found.total_results, found.entries_per_page, hrefFor)));
}

export async function movie(app, [id]) {
  const { t } = app;
  let comments = [];
  let early = []; // events that came while the page was loading: applied after it
  let editing = null; // { id, node }: an open edit survives live refreshes

  const list = element("ol", { id: "comments", class: "comments" });
  const status = element("span", { class: "live-status", role: "status" });
  app.liveStatus((state) => {
    status.textContent = state === "open" ? t("live") : state === "reconnecting" ? t("reconnecting") : "";
  });

  function commentItem(comment) {
    const mine = app.user && comment.mine === true;
    const item = element("li", { id: `comment-${comment._id}`, class: "comment" },
      element("p", { class: "meta" },
        element("strong", {}, comment.name), " · ",
        element("time", { datetime: comment.date }, shownDate(comment.date, app.language))),
      element("p", { class: "text" }, comment.text));
    if (mine) {
      item.append(element("div", { class: "buttons" },
        element("button", { type: "button", class: "link", onclick: () => edit(comment, item) }, t("edit")),
        element("button", { type: "button", class: "link danger", onclick: () => remove(comment, item) },
          t("delete"))));
    }
    return item;
  }

  function show() {
    comments.sort((a, b) => String(b.date).localeCompare(String(a.date)));
    list.replaceChildren(...comments.map((c) => (editing?.id === c._id ? editing.node : commentItem(c))));
    if (!comments.length) list.replaceChildren(element("li", { class: "empty" }, t("noComments")));
  }

  function edit(comment, item) {
    const form = element("form", { novalidate: true, class: "comment" },
      textarea("updated_comment", t("editComment"), comment.text, { required: true, maxlength: "5000" }),
      formStatus(),
      element("div", { class: "buttons" },
        element("button", { type: "submit" }, t("save")),
        element("button", { type: "button", class: "link", onclick: () => { editing = null; show(); } },
          t("cancel"))));
    form.addEventListener("submit", async (event) => {
      event.preventDefault();
      try {
        const answer = await call("PUT", "/movies/comment",
          { comment_id: comment._id, movie_id: id, updated_comment: formValues(form).updated_comment });
        editing = null;
        comments = answer.comments;
        show();
      } catch (error) { showErrors(form, error, t); }
    });
    editing = { id: comment._id, node: element("li", { id: `comment-${comment._id}` }, form) };
    item.replaceWith(editing.node);
    form.querySelector("textarea").focus();
  }

  async function remove(comment, item) {
    try {
      comments = (await call("DELETE", "/movies/comment", { comment_id: comment._id, movie_id: id })).comments;
      show();
    } catch (error) {
      item.append(element("p", { class: "form-error", role: "alert" }, refusalText(error, t)));
    }
  }

  async function refetch() {
    comments = (await call("GET", `/movies/id/${id}`)).movie.comments || [];
    show();
  }

  // A change applied where it happened; without its document, refetch.
  function apply(event) {
    if (early) { early.push(event); return; }
    const others = comments.filter((c) => c._id !== event.doc_id);
    if (event.op === "delete") {
      comments = others;
      if (editing?.id === event.doc_id) editing = null;
    } else if (event.document) {
      // Events carry no owner: a comment keeps what the API said of it.
      const known = comments.find((c) => c._id === event.doc_id);
      comments = [...others, { ...event.document, mine: known?.mine }];
    } else {
      refetch().catch(app.failed);
      return;
    }
    show();
  }

  await app.follow(`movie:${id}:comments`, () => refetch().catch(app.failed), apply);
  const { movie: details } = await call("GET", `/movies/id/${id}`);
  comments = details.comments || [];
  // In order, by id: the last event for a comment is its latest state.
  const arrived = early;
  early = null;
  arrived.forEach(apply);
  show();

  let composer;
  if (app.user) {
    composer = element("form", { novalidate: true, class: "card" },
      textarea("comment", t("comment"), "", { required: true, maxlength: "5000" }),
      formStatus(),
      element("button", { type: "submit" }, t("postComment")));
    composer.addEventListener("submit", async (event) => {
      event.preventDefault();
      try {
        comments = (await call("POST", "/movies/comment",
          { movie_id: id, comment: formValues(composer).comment })).comments;
        composer.reset();
        clearErrors(composer);
        show();
      } catch (error) { showErrors(composer, error, t); }
    });
  } else {
    composer = element("p", {}, element("a", { href: "#/login" }, t("signInToComment")));
  }

  const facts = [
    ["year", details.year], ["genres", (details.genres || []).join(", ")],
    ["directors", (details.directors || []).join(", ")], ["cast", (details.cast || []).join(", ")],
    ["runtime", when(details.runtime, (n) => t("minutes", { n }))], ["rating", details.imdb?.rating],
  ].filter(([, value]) => present(value));
  return element("article", {},
    element("p", {}, element("a", { href: "#/movies" }, t("movies"))),
    element("h1", {}, details.title),
    element("dl", { class: "facts" }, facts.flatMap(([key, value]) => [
      element("dt", {}, t(key)), element("dd", {}, String(value))])),
    when(details.fullplot || details.plot, (plot) => element("p", { class: "plot" }, plot)),
    element("section", { "aria-labelledby": "comments-heading" },
      element("div", { class: "heading" },
        element("h2", { id: "comments-heading" }, t("comments")), status),
      composer, list));
}
