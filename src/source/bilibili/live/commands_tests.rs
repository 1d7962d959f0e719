//! Commands in the shapes of captured ones (SOURCE-APIS §5.7).

use super::*;

const ROOM: Room = Room { owner_uid: 9617619 };

fn read_all(commands: &[&str]) -> Reading {
    let mut out = Reading::default();
    for c in commands {
        read(c.as_bytes(), ROOM, &mut out);
    }
    out
}

/// A `DANMU_MSG` as the web client receives it (fields trimmed to those
/// the reader uses and their neighbours).
fn danmu(uid: u64, name: &str, text: &str, id_str: &str) -> String {
    let extra = serde_json::json!({
        "send_from_me": false, "mode": 0, "color": 16777215, "dm_type": 0, "font_size": 25,
        "player_mode": 1, "show_player_type": 0, "content": text, "user_hash": "2350939498",
        "emoticon_unique": "", "bulge_display": 0, "recommend_score": 1, "main_state_dm_color": "",
        "objective_state_dm_color": "", "direction": 0, "pk_direction": 0, "quartet_direction": 0,
        "anniversary_crowd": 0, "yeah_space_type": "", "yeah_space_url": "", "jump_to_url": "",
        "space_type": "", "space_url": "", "animation": {}, "emots": {"[dog]": {"emoticon_id": 208, "emoji": "[dog]", "descript": "[dog]", "url": "http://i0.hdslb.com/bfs/live/4428c84e694fbf4e0ef6c06e958d9352c3582740.png", "width": 20, "height": 20}},
        "is_audited": false, "id_str": id_str, "icon": null, "show_reply": true, "reply_mid": 0,
        "reply_uname": "", "reply_uname_color": "", "reply_is_mystery": false, "hit_combo": 0
    });
    serde_json::json!({
        "cmd": "DANMU_MSG",
        "dm_v2": "",
        "info": [
            [0, 1, 25, 16777215, 1723979200123i64, -1163416282, 0, "8c3be2e6", 0, 0, 0, "", 0, "{}", "{}",
             {"extra": extra.to_string(), "mode": 0, "show_player_type": 0,
              "user": {"uid": uid, "base": {"name": name, "face": "https://i1.hdslb.com/bfs/face/abc.jpg", "name_color": 0, "is_mystery": false}}},
             {"activity_identity": "", "activity_source": 0, "not_show": 0}, 0],
            text,
            [uid, name, 1, 0, 0, 10000, 1, ""],
            [21, "小狗牌", "主播", 9617619, 1725515, "", 0, 6809855, 398668, 6850801, 3, 1, 9617619],
            [12, 0, 6406234, ">50000", 0],
            ["", ""],
            0,
            3,
            null,
            {"ts": 1723979200, "ct": "AFFF4206"},
            0, 0, null, null, 0, 105, [14], null
        ]
    })
    .to_string()
}

#[test]
fn a_danmaku_keeps_its_text_author_medal_level_guard_and_emotes() {
    let out = read_all(&[&danmu(
        123456,
        "观众甲",
        "你好 [dog]",
        "364b06e3c561af3d5921f1253d66c1d575",
    )]);
    assert_eq!(out.batch.skipped, 0);
    let c = &out.batch.comments[0];
    assert_eq!(c.id, "364b06e3c561af3d5921f1253d66c1d575");
    assert_eq!(c.text, "你好 [dog]");
    assert_eq!(
        (c.author_name.as_str(), c.author_id.as_str()),
        ("观众甲", "123456")
    );
    assert_eq!(
        c.author_avatar.as_deref(),
        Some("https://i1.hdslb.com/bfs/face/abc.jpg")
    );
    assert_eq!(
        c.published_at.unwrap().timestamp_millis(),
        1723979200123,
        "the send time is in milliseconds"
    );
    assert_eq!(
        c.emotes,
        vec![(
            "[dog]".to_owned(),
            "https://i0.hdslb.com/bfs/live/4428c84e694fbf4e0ef6c06e958d9352c3582740.png".to_owned()
        )]
    );
    assert_eq!(c.roles, vec![Role::Moderator, Role::Member], "admin, 舰长");
    assert_eq!(
        c.member_level.as_deref(),
        Some("舰长 · 小狗牌 Lv21 · UL 12")
    );
    assert_eq!(c.kind, Kind::Text);
    assert!(!out.masked);
}

#[test]
fn a_danmaku_without_an_id_gets_a_stable_hash_and_the_owner_role() {
    let a = danmu(9617619, "主播", "开播啦", "");
    let first = read_all(&[&a]).batch.comments.remove(0);
    let again = read_all(&[&a]).batch.comments.remove(0);
    assert_eq!(first.id, again.id, "the same message hashes the same");
    assert!(first.id.starts_with('h'));
    let other = read_all(&[&danmu(9617619, "主播", "开播啦!", "")])
        .batch
        .comments
        .remove(0);
    assert_ne!(first.id, other.id);
    assert!(first.roles.contains(&Role::Owner));
}

#[test]
fn a_masked_danmaku_is_reported_and_not_attributed_to_uid_zero() {
    let out = read_all(&[&danmu(0, "观***", "hi", "x1")]);
    assert!(out.masked);
    assert_eq!(out.batch.comments[0].author_id, "");
    let notice = r#"{"cmd":"LOG_IN_NOTICE","data":{"notice_msg":"为保护用户隐私，未登录无法查看他人昵称","image_web":"http://i0.hdslb.com/bfs/dm/75e7c16b99208df259fe0a93354fd3440cbab412.png","image_app":""}}"#;
    assert!(read_all(&[notice]).masked);
}

#[test]
fn a_big_emoticon_danmaku_carries_its_image() {
    let mut v: Value = serde_json::from_str(&danmu(5, "a", "赞", "e1")).unwrap();
    v["info"][0][12] = 1.into();
    v["info"][0][13] = r#"{"bulge_display":0,"emoticon_unique":"official_147","height":60,"in_player_area":1,"is_dynamic":1,"url":"http://i0.hdslb.com/bfs/live/bbd9045570d0c022a984c637e406cb0e1f208aa9.png","width":183}"#.into();
    let out = read_all(&[&v.to_string()]);
    let c = &out.batch.comments[0];
    assert!(
        c.emotes.contains(&(
            "赞".to_owned(),
            "https://i0.hdslb.com/bfs/live/bbd9045570d0c022a984c637e406cb0e1f208aa9.png".to_owned()
        )),
        "{:?}",
        c.emotes
    );
}

const SUPER_CHAT: &str = r##"{"cmd":"SUPER_CHAT_MESSAGE","data":{"background_bottom_color":"#2A60B2","background_color":"#EDF5FF","background_color_end":"#405D85","background_color_start":"#3171D2","background_icon":"","background_image":"https://i0.hdslb.com/bfs/live/a712efa5c6ebc67bafbe8352d3e74b820a00c13e.png","background_price_color":"#7497CD","color_point":0.7,"dmscore":120,"end_time":1651000093,"gift":{"gift_id":12000,"gift_name":"醒目留言","num":1},"id":3897503,"is_ranked":1,"is_send_audit":0,"medal_info":{"anchor_roomid":6154037,"anchor_uname":"主播","guard_level":3,"icon_id":0,"is_lighted":1,"medal_color":"#6154c","medal_color_border":6809855,"medal_color_end":6850801,"medal_color_start":398668,"medal_level":22,"medal_name":"小狗牌","special":"","target_id":9617619},"message":"主播晚上好","message_font_color":"#A3F6FF","message_trans":"","price":30,"rate":1000,"start_time":1651000033,"time":60,"token":"D4C7D0F8","trans_mark":0,"ts":1651000033,"uid":37903025,"user_info":{"face":"http://i2.hdslb.com/bfs/face/2f4c3e2b.jpg","face_frame":"","guard_level":3,"is_main_vip":1,"is_svip":0,"is_vip":0,"level_color":"#61c05a","manager":0,"name_color":"#00D1F1","title":"0","uname":"玉麟珑","user_level":20}},"roomid":6154037}"##;

#[test]
fn a_super_chat_is_a_paid_comment_in_yuan() {
    let out = read_all(&[SUPER_CHAT]);
    let c = &out.batch.comments[0];
    assert_eq!(c.id, "sc-3897503");
    assert_eq!(c.kind, Kind::Superchat);
    assert_eq!(c.text, "主播晚上好");
    assert_eq!(c.author_name, "玉麟珑");
    assert_eq!(
        c.author_avatar.as_deref(),
        Some("https://i2.hdslb.com/bfs/face/2f4c3e2b.jpg")
    );
    let amount = c.amount.as_ref().unwrap();
    assert_eq!(
        (
            amount.display.as_str(),
            amount.micros,
            amount.currency.as_str()
        ),
        ("CN¥30", 30_000_000, "CNY")
    );
    assert_eq!(c.event.as_ref().unwrap().tier, Some(1));
    assert_eq!(
        c.member_level.as_deref(),
        Some("舰长 · 小狗牌 Lv22 · UL 20")
    );
    assert_eq!(c.published_at.unwrap().timestamp(), 1651000033);
    let deleted = read_all(&[
        r#"{"cmd":"SUPER_CHAT_MESSAGE_DELETE","data":{"ids":[3897503]},"roomid":6154037}"#,
    ]);
    assert_eq!(deleted.batch.deleted, vec!["sc-3897503"]);
    let mut big: Value = serde_json::from_str(SUPER_CHAT).unwrap();
    big["data"]["price"] = 1000.into();
    let out = read_all(&[&big.to_string()]);
    assert_eq!(out.batch.comments[0].event.as_ref().unwrap().tier, Some(5));
}

const GIFT: &str = r#"{"cmd":"SEND_GIFT","data":{"action":"投喂","batch_combo_id":"batch:gift:combo_id:37903025:9617619:31036:1651000000.1234","batch_combo_send":null,"beatId":"","biz_source":"live","blind_gift":null,"broadcast_id":0,"coin_type":"gold","combo_resources_id":1,"combo_send":null,"combo_stay_time":3,"combo_total_coin":100,"crit_prob":0,"demarcation":1,"discount_price":100,"dmscore":56,"draw":0,"effect":0,"effect_block":1,"face":"http://i2.hdslb.com/bfs/face/2f4c3e2b.jpg","giftId":31036,"giftName":"小花花","giftType":0,"gift_info":{"img_basic":"https://s1.hdslb.com/bfs/live/8b40d0470890e7d573995383af8a8ae074d485d9.png"},"gold":0,"guard_level":0,"is_first":true,"is_special_batch":0,"magnification":1,"medal_info":{"anchor_roomid":0,"anchor_uname":"","guard_level":0,"icon_id":0,"is_lighted":1,"medal_color":1725515,"medal_level":21,"medal_name":"小狗牌","special":"","target_id":9617619},"name_color":"","num":1,"original_gift_name":"","price":100,"rcost":2318,"remain":0,"rnd":"1651000000121300001","send_master":null,"silver":0,"super":0,"super_batch_gift_num":1,"super_gift_num":1,"svga_block":0,"tag_image":"","tid":"1651000000121300002","timestamp":1651000000,"top_list":null,"total_coin":100,"uid":37903025,"uname":"玉麟珑"}}"#;

#[test]
fn gifts_and_guards_carry_their_value() {
    let guard = r#"{"cmd":"GUARD_BUY","data":{"uid":37903025,"username":"玉麟珑","guard_level":3,"num":1,"price":198000,"gift_id":10003,"gift_name":"舰长","start_time":1651000100,"end_time":1651000100}}"#;
    let out = read_all(&[GIFT, guard]);
    let g = &out.batch.comments[0];
    assert_eq!(g.id, "gift-1651000000121300002");
    assert_eq!(g.kind, Kind::Gift);
    assert_eq!(g.text, "投喂 小花花 ×1");
    assert_eq!(g.amount.as_ref().unwrap().display, "CN¥0.10");
    let e = g.event.as_ref().unwrap();
    assert_eq!((e.name.as_deref(), e.count), (Some("小花花"), Some(1)));
    assert!(
        e.image
            .as_deref()
            .unwrap()
            .starts_with("https://s1.hdslb.com/")
    );
    let m = &out.batch.comments[1];
    assert_eq!(m.kind, Kind::Membership);
    assert_eq!(m.amount.as_ref().unwrap().display, "CN¥198");
    assert_eq!(m.event.as_ref().unwrap().level.as_deref(), Some("舰长"));
    assert_eq!(m.roles, vec![Role::Member]);
    assert_eq!(m.text, "开通了舰长 ×1");
    // A silver gift has no money value.
    let silver = GIFT.replace("\"coin_type\":\"gold\"", "\"coin_type\":\"silver\"");
    assert_eq!(read_all(&[&silver]).batch.comments[0].amount, None);
}

#[test]
fn room_state_recalls_mutes_and_unknown_commands() {
    let out = read_all(&[
        r#"{"cmd":"LIVE","live_key":"234304209915761953","voice_background":"","sub_session_key":"x","live_platform":"pc","live_model":0,"live_time":1651036923,"roomid":23614753}"#,
        r#"{"cmd":"RECALL_DANMU_MSG","data":{"recall_type":2,"target_id":525503743}}"#,
        r#"{"cmd":"ROOM_BLOCK_MSG","data":{"dmscore":30,"operator":2,"uid":37903025,"uname":"玉麟珑"},"uid":"37903025","uname":"玉麟珑"}"#,
        r#"{"cmd":"WATCHED_CHANGE","data":{"num":1}}"#,
        r#"{"cmd":"SOMETHING_NEW:2","data":{}}"#,
        r#"{"cmd":"DANMU_MSG","info":"not an array"}"#,
        "not json",
    ]);
    assert_eq!(out.live, Some(true));
    assert_eq!(out.batch.deleted, vec!["525503743"]);
    assert_eq!(out.batch.banned_authors, vec!["37903025"]);
    assert_eq!(out.batch.notes, vec!["玉麟珑 was muted in the room"]);
    assert_eq!(
        out.batch.unknown,
        vec!["SOMETHING_NEW"],
        "known noise is not counted"
    );
    assert_eq!(out.batch.skipped, 2);
    let off = read_all(&[
        r#"{"cmd":"PREPARING","msg_id":"27040425357932032:1000:1000","p_is_ack":true,"p_msg_type":1,"roomid":"1017","send_time":1740129398337}"#,
    ]);
    assert_eq!(off.live, Some(false));
}
