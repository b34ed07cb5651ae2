"""`repo/`: the network-install lists, pointing at the served build.

`os_list_v3.json` is NOOBS's list (and what PINN reads behind a repo_list);
`repo_list.json` is PINN's list of lists (`repo_list=` on its command line).
Every URL is under the --repo-url the build directory is served at.
"""
from noobs_image import card


def os_list_entry(os_json, partitions, flavours, repo_url):
    u = card.urls(repo_url)
    entry = {
        "os_name": os_json["name"],
        "description": os_json["description"],
        "release_date": os_json["release_date"],
        "version": os_json["version"],
        "feature_level": 0,
        "supported_models": os_json["supported_models"],
        "os_info": u["os_info"],
        "partitions_info": u["partitions_info"],
        "partition_setup": u["partition_setup"],
        "marketing_info": u["marketing_info"],
        "icon": u["icon"],
        "tarballs": u["tarballs"],
        "nominal_size": sum(p["partition_size_nominal"] for p in partitions["partitions"]),
        "flavours": flavours["flavours"],
    }
    return entry


def os_list(os_json, partitions, flavours, repo_url):
    return {"os_list": [os_list_entry(os_json, partitions, flavours, repo_url)]}


def repo_list(repo_url):
    return {"repo_list": [{"name": card.NAME, "url": repo_url + "/repo/os_list_v3.json"}]}
