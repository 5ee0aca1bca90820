from __future__ import annotations

from sessions_app.rendering import code_stylesheet, render_markdown


def test_markdown_renders_code_and_lists() -> None:
    html = render_markdown("Hi **there**\n\n```python\nprint(1)\n```\n\n- a\n- b")

    assert "<strong>there</strong>" in html
    assert '<pre><code class="language-python"><span class="nb">print</span>' in html
    assert "<li>a</li>" in html


def test_raw_html_and_scripts_never_pass() -> None:
    html = render_markdown("<script>alert(1)</script> <img src=x onerror=alert(1)> <b>bold</b>")

    assert "<script" not in html
    assert "<img" not in html
    # Shown as text, harmless.
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert "&lt;img src=x onerror=alert(1)&gt;" in html


def test_links_are_safe() -> None:
    html = render_markdown("[ok](https://example.com) [bad](javascript:alert(1))")

    assert 'href="https://example.com"' in html
    assert 'rel="noopener noreferrer nofollow"' in html
    assert 'href="javascript:' not in html
    assert "[bad](javascript:alert(1))" in html  # left as plain text


def test_code_is_highlighted_with_token_classes_only() -> None:
    html = render_markdown("```python\nx = '<b>'\n```\n\n```no-such-language\na < b\n```")

    assert '<span class="s1">&#39;&lt;b&gt;&#39;</span>' in html or "&lt;b&gt;" in html
    assert '<span class="o">=</span>' in html
    assert '<code class="language-no-such-language">a &lt; b\n</code>' in html


def test_tokens_drawn_as_plain_text_get_no_span() -> None:
    html = render_markdown("```python\nprint(total)\n```")

    # Names and punctuation are plain text in both themes: no span each for them.
    assert '<code class="language-python"><span class="nb">print</span>(total)\n</code>' in html


def test_a_model_cannot_style_the_page_through_the_code_classes() -> None:
    html = render_markdown('```\n<span class="k" style="color:red">x</span>\n```')

    assert "<span" not in html  # the model's own tags stay text, inside code or not


def test_text_without_a_span_keeps_the_colour_names_had_in_the_dark_theme() -> None:
    light, dark = code_stylesheet().split("@media (prefers-color-scheme: dark) {")

    assert ".markdown pre code { color: #e6edf3 }" in dark  # github-dark's names, as before
    assert ".markdown pre code {" not in light  # the default style leaves text to the page
