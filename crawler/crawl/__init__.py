"""What runs inside one Scrapy crawl: items, pipelines, middlewares, the HTTP download
handler, the crawl_runs row, and the process that runs the spiders (`process`)."""
