"""The web page's files (HTML, JS, CSS), served by the app itself: no CDN, no build step."""
