export type Json =
  | string
  | number
  | boolean
  | null
  | { [key: string]: Json | undefined }
  | Json[];

export type Database = {
  public: {
    Tables: {
      analytics_bot_events: {
        Row: {
          event_type: string;
          id: string;
          properties: NonNullable<Json>;
          received_at: string;
          timestamp: string;
          user_agent: string | null;
        };
        Insert: {
          event_type: string;
          id: string;
          properties?: NonNullable<Json>;
          received_at?: string;
          timestamp?: string;
          user_agent?: string | null;
        };
        Update: {
          event_type?: string;
          id?: string;
          properties?: NonNullable<Json>;
          received_at?: string;
          timestamp?: string;
          user_agent?: string | null;
        };
        Relationships: [];
      };
      analytics_event_ids: {
        Row: {
          id: string;
        };
        Insert: {
          id: string;
        };
        Update: {
          id?: string;
        };
        Relationships: [];
      };
      creator_daily_breakdowns: {
        Row: {
          country: string;
          creator_id: string;
          date: string;
          device: string;
          plays: number;
          source: string;
        };
        Insert: {
          country: string;
          creator_id: string;
          date: string;
          device: string;
          plays: number;
          source: string;
        };
        Update: {
          country?: string;
          creator_id?: string;
          date?: string;
          device?: string;
          plays?: number;
          source?: string;
        };
        Relationships: [];
      };
      creator_quarter_hour_stats: {
        Row: {
          bucket_start: string;
          creator_id: string;
          likes: number;
          plays: number;
          shares: number;
        };
        Insert: {
          bucket_start: string;
          creator_id: string;
          likes?: number;
          plays?: number;
          shares?: number;
        };
        Update: {
          bucket_start?: string;
          creator_id?: string;
          likes?: number;
          plays?: number;
          shares?: number;
        };
        Relationships: [];
      };
      creator_realtime_totals: {
        Row: {
          creator_id: string;
          followers: number;
          updated_at: string;
        };
        Insert: {
          creator_id: string;
          followers?: number;
          updated_at?: string;
        };
        Update: {
          creator_id?: string;
          followers?: number;
          updated_at?: string;
        };
        Relationships: [];
      };
      follows: {
        Row: {
          created_at: string;
          creator_id: string;
          follower_id: string;
        };
        Insert: {
          created_at?: string;
          creator_id: string;
          follower_id: string;
        };
        Update: {
          created_at?: string;
          creator_id?: string;
          follower_id?: string;
        };
        Relationships: [];
      };
      mashup_daily_retention: {
        Row: {
          completed_plays: number;
          date: string;
          mashup_id: string;
          plays: number;
          position_bucket_seconds: number;
          watch_time_seconds: number;
        };
        Insert: {
          completed_plays: number;
          date: string;
          mashup_id: string;
          plays: number;
          position_bucket_seconds: number;
          watch_time_seconds: number;
        };
        Update: {
          completed_plays?: number;
          date?: string;
          mashup_id?: string;
          plays?: number;
          position_bucket_seconds?: number;
          watch_time_seconds?: number;
        };
        Relationships: [];
      };
      mashup_daily_stats: {
        Row: {
          avg_watch_time: number | null;
          comments: number | null;
          date: string;
          downloads: number | null;
          id: string;
          likes: number | null;
          mashup_id: string;
          plays: number | null;
          shares: number | null;
          unique_plays: number | null;
        };
        Insert: {
          avg_watch_time?: number | null;
          comments?: number | null;
          date: string;
          downloads?: number | null;
          id?: string;
          likes?: number | null;
          mashup_id: string;
          plays?: number | null;
          shares?: number | null;
          unique_plays?: number | null;
        };
        Update: {
          avg_watch_time?: number | null;
          comments?: number | null;
          date?: string;
          downloads?: number | null;
          id?: string;
          likes?: number | null;
          mashup_id?: string;
          plays?: number | null;
          shares?: number | null;
          unique_plays?: number | null;
        };
        Relationships: [
          {
            foreignKeyName: "mashup_daily_stats_mashup_id_fkey";
            columns: ["mashup_id"];
            isOneToOne: false;
            referencedRelation: "mashups";
            referencedColumns: ["id"];
          },
        ];
      };
      mashup_lifetime_stats: {
        Row: {
          avg_watch_time: number | null;
          comments: number;
          completed_plays: number;
          downloads: number;
          likes: number;
          mashup_id: string;
          plays: number;
          shares: number;
          tracked_plays: number;
          unique_plays: number;
          watch_time_seconds: number;
        };
        Insert: {
          avg_watch_time?: number | null;
          comments?: number;
          completed_plays?: number;
          downloads?: number;
          likes?: number;
          mashup_id: string;
          plays?: number;
          shares?: number;
          tracked_plays?: number;
          unique_plays?: number;
          watch_time_seconds?: number;
        };
        Update: {
          avg_watch_time?: number | null;
          comments?: number;
          completed_plays?: number;
          downloads?: number;
          likes?: number;
          mashup_id?: string;
          plays?: number;
          shares?: number;
          tracked_plays?: number;
          unique_plays?: number;
          watch_time_seconds?: number;
        };
        Relationships: [];
      };
      mashup_listeners: {
        Row: {
          first_played_at: string;
          listener_key: string;
          mashup_id: string;
        };
        Insert: {
          first_played_at: string;
          listener_key: string;
          mashup_id: string;
        };
        Update: {
          first_played_at?: string;
          listener_key?: string;
          mashup_id?: string;
        };
        Relationships: [];
      };
      mashup_play_summaries: {
        Row: {
          completed: boolean;
          duration_seconds: number;
          ended: boolean;
          furthest_position_seconds: number;
          mashup_id: string;
          max_position_seconds: number | null;
          play_id: string;
          started_at: string;
          started_event_id: string | null;
        };
        Insert: {
          completed: boolean;
          duration_seconds: number;
          ended: boolean;
          furthest_position_seconds: number;
          mashup_id: string;
          max_position_seconds?: number | null;
          play_id: string;
          started_at: string;
          started_event_id?: string | null;
        };
        Update: {
          completed?: boolean;
          duration_seconds?: number;
          ended?: boolean;
          furthest_position_seconds?: number;
          mashup_id?: string;
          max_position_seconds?: number | null;
          play_id?: string;
          started_at?: string;
          started_event_id?: string | null;
        };
        Relationships: [];
      };
      mashup_quarter_hour_breakdowns: {
        Row: {
          bucket_start: string;
          country: string;
          device: string;
          mashup_id: string;
          plays: number;
          source: string;
        };
        Insert: {
          bucket_start: string;
          country: string;
          device: string;
          mashup_id: string;
          plays: number;
          source: string;
        };
        Update: {
          bucket_start?: string;
          country?: string;
          device?: string;
          mashup_id?: string;
          plays?: number;
          source?: string;
        };
        Relationships: [];
      };
      mashup_quarter_hour_stats: {
        Row: {
          bucket_start: string;
          comments: number;
          downloads: number;
          likes: number;
          mashup_id: string;
          plays: number;
          shares: number;
        };
        Insert: {
          bucket_start: string;
          comments?: number;
          downloads?: number;
          likes?: number;
          mashup_id: string;
          plays?: number;
          shares?: number;
        };
        Update: {
          bucket_start?: string;
          comments?: number;
          downloads?: number;
          likes?: number;
          mashup_id?: string;
          plays?: number;
          shares?: number;
        };
        Relationships: [];
      };
      mashup_realtime_totals: {
        Row: {
          comments: number;
          downloads: number;
          likes: number;
          mashup_id: string;
          plays: number;
          reactions: number;
          shares: number;
          updated_at: string;
        };
        Insert: {
          comments?: number;
          downloads?: number;
          likes?: number;
          mashup_id: string;
          plays?: number;
          reactions?: number;
          shares?: number;
          updated_at?: string;
        };
        Update: {
          comments?: number;
          downloads?: number;
          likes?: number;
          mashup_id?: string;
          plays?: number;
          reactions?: number;
          shares?: number;
          updated_at?: string;
        };
        Relationships: [
          {
            foreignKeyName: "mashup_realtime_totals_mashup_id_fkey";
            columns: ["mashup_id"];
            isOneToOne: true;
            referencedRelation: "mashups";
            referencedColumns: ["id"];
          },
        ];
      };
      mashups: {
        Row: {
          created_at: string;
          creator_id: string;
          duration_seconds: number;
          id: string;
          title: string;
        };
        Insert: {
          created_at?: string;
          creator_id: string;
          duration_seconds: number;
          id?: string;
          title: string;
        };
        Update: {
          created_at?: string;
          creator_id?: string;
          duration_seconds?: number;
          id?: string;
          title?: string;
        };
        Relationships: [];
      };
      realtime_drift: {
        Row: {
          counted: number;
          counter: string;
          detected_at: string;
          expected: number;
          id: number;
          repaired: number;
          run_id: string;
          subject_id: string;
          subject_kind: string;
          uncertain: number;
        };
        Insert: {
          counted: number;
          counter: string;
          detected_at?: string;
          expected: number;
          id?: never;
          repaired: number;
          run_id: string;
          subject_id: string;
          subject_kind: string;
          uncertain: number;
        };
        Update: {
          counted?: number;
          counter?: string;
          detected_at?: string;
          expected?: number;
          id?: never;
          repaired?: number;
          run_id?: string;
          subject_id?: string;
          subject_kind?: string;
          uncertain?: number;
        };
        Relationships: [
          {
            foreignKeyName: "realtime_drift_run_id_fkey";
            columns: ["run_id"];
            isOneToOne: false;
            referencedRelation: "realtime_reconcile_runs";
            referencedColumns: ["run_id"];
          },
        ];
      };
      realtime_reconcile_runs: {
        Row: {
          counters_checked: number;
          counters_repaired: number;
          counters_uncertain: number;
          increments_repaired: number;
          read_at: string;
          reason: string;
          run_id: string;
          settle_seconds: number;
          started_at: string;
        };
        Insert: {
          counters_checked?: number;
          counters_repaired?: number;
          counters_uncertain?: number;
          increments_repaired?: number;
          read_at: string;
          reason?: string;
          run_id?: string;
          settle_seconds: number;
          started_at?: string;
        };
        Update: {
          counters_checked?: number;
          counters_repaired?: number;
          counters_uncertain?: number;
          increments_repaired?: number;
          read_at?: string;
          reason?: string;
          run_id?: string;
          settle_seconds?: number;
          started_at?: string;
        };
        Relationships: [];
      };
      realtime_sync_batches: {
        Row: {
          applied_at: string;
          batch_id: string;
          counters: number;
          increments: number;
          skipped_counters: number;
          skipped_increments: number;
        };
        Insert: {
          applied_at?: string;
          batch_id: string;
          counters?: number;
          increments?: number;
          skipped_counters?: number;
          skipped_increments?: number;
        };
        Update: {
          applied_at?: string;
          batch_id?: string;
          counters?: number;
          increments?: number;
          skipped_counters?: number;
          skipped_increments?: number;
        };
        Relationships: [];
      };
      user_daily_stats: {
        Row: {
          date: string;
          followers_gained: number | null;
          id: string;
          mashups_created: number | null;
          plays_received: number | null;
          user_id: string;
        };
        Insert: {
          date: string;
          followers_gained?: number | null;
          id?: string;
          mashups_created?: number | null;
          plays_received?: number | null;
          user_id: string;
        };
        Update: {
          date?: string;
          followers_gained?: number | null;
          id?: string;
          mashups_created?: number | null;
          plays_received?: number | null;
          user_id?: string;
        };
        Relationships: [];
      };
    };
    Views: {
      analytics_events: {
        Row: {
          anonymous_id: string | null;
          country: string | null;
          device: string | null;
          event_type: string | null;
          id: string | null;
          listener_key: string | null;
          mashup_id: string | null;
          properties: Json | null;
          received_at: string | null;
          session_id: string | null;
          timestamp: string | null;
          user_id: string | null;
        };
        Insert: {
          anonymous_id?: string | null;
          country?: string | null;
          device?: string | null;
          event_type?: string | null;
          id?: string | null;
          listener_key?: string | null;
          mashup_id?: string | null;
          properties?: Json | null;
          received_at?: string | null;
          session_id?: string | null;
          timestamp?: string | null;
          user_id?: string | null;
        };
        Update: {
          anonymous_id?: string | null;
          country?: string | null;
          device?: string | null;
          event_type?: string | null;
          id?: string | null;
          listener_key?: string | null;
          mashup_id?: string | null;
          properties?: Json | null;
          received_at?: string | null;
          session_id?: string | null;
          timestamp?: string | null;
          user_id?: string | null;
        };
        Relationships: [];
      };
    };
    Functions: {
      aggregate_mashup_stats: {
        Args: { target_date: string };
        Returns: undefined;
      };
      aggregate_user_stats: {
        Args: { target_date: string };
        Returns: undefined;
      };
      check_compare: { Args: { p_compare: string }; Returns: undefined };
      dashboard_breakdown_totals: {
        Args: {
          p_creators: string[];
          p_from: string;
          p_mashups: string[];
          p_to: string;
        };
        Returns: {
          country: string;
          device: string;
          plays: number;
          source: string;
        }[];
      };
      dashboard_comparison: {
        Args: { p_end: string; p_start: string; p_summary: Json; p_tz: string };
        Returns: Json;
      };
      dashboard_date_parameter: {
        Args: { p_name: string; p_value: string };
        Returns: string;
      };
      dashboard_limit_parameter: { Args: { p_limit: Json }; Returns: number };
      dashboard_local_midnight: {
        Args: { p_day: string; p_tz: string };
        Returns: string;
      };
      dashboard_mashup_id_parameter: {
        Args: { p_mashup_id: string };
        Returns: string;
      };
      dashboard_mashup_totals: {
        Args: { p_from: string; p_mashups: string[]; p_to: string };
        Returns: {
          likes: number;
          mashup_id: string;
          plays: number;
        }[];
      };
      dashboard_parameters: {
        Args: { p_end: string; p_start: string; p_tz: string };
        Returns: Record<string, unknown>;
      };
      dashboard_period_bounds: {
        Args: { p_end: string; p_start: string; p_tz: string };
        Returns: Record<string, unknown>;
      };
      dashboard_period_parts: {
        Args: { p_from: string; p_to: string };
        Returns: Record<string, unknown>;
      };
      erase_listener: {
        Args: {
          p_anonymous_id?: string;
          p_session_id?: string;
          p_user_id?: string;
        };
        Returns: Json;
      };
      erasure_count: { Args: Record<PropertyKey, never>; Returns: number };
      get_creator_dashboard: {
        Args: {
          p_end?: string;
          p_limit?: Json;
          p_start?: string;
          p_tz?: string;
        };
        Returns: Json;
      };
      get_creator_dashboard_with_comparison: {
        Args: {
          p_compare?: string;
          p_end?: string;
          p_limit?: Json;
          p_start?: string;
          p_tz?: string;
        };
        Returns: Json;
      };
      get_mashup_analytics: {
        Args: {
          p_end?: string;
          p_mashup_id?: string;
          p_start?: string;
          p_tz?: string;
        };
        Returns: Json;
      };
      get_mashup_analytics_with_comparison: {
        Args: {
          p_compare?: string;
          p_end?: string;
          p_mashup_id?: string;
          p_start?: string;
          p_tz?: string;
        };
        Returns: Json;
      };
      ingest_events: {
        Args: { events: Json };
        Returns: {
          id: string;
          is_new: boolean;
          listener_key: string;
          ordinality: number;
          timestamp: string;
        }[];
      };
      parse_realtime_counter_deltas: {
        Args: { p_deltas: Json };
        Returns: {
          counter: string;
          delta: number;
          kind: string;
          subject_id: string;
        }[];
      };
      percent_change: {
        Args: { p_current: number; p_previous: number };
        Returns: number;
      };
      period_totals: {
        Args: {
          p_end: string;
          p_mashup_ids: string[];
          p_start: string;
          p_tz: string;
        };
        Returns: Json;
      };
      realtime_totals: {
        Args: { p_mashup_ids?: string[] };
        Returns: {
          comments: number;
          downloads: number;
          likes: number;
          mashup_id: string;
          plays: number;
          reactions: number;
          shares: number;
          updated_at: string;
        }[];
      };
      realtime_window_members: {
        Args: {
          p_creator_id?: string;
          p_now?: string;
          p_received_since?: string;
        };
        Returns: Json;
      };
      reconcile_realtime_totals: {
        Args: { p_fence_us: number; p_outstanding: Json; p_reason?: string };
        Returns: Json;
      };
      refresh_materialized_views: {
        Args: Record<PropertyKey, never>;
        Returns: undefined;
      };
      retired_mashup_ids: {
        Args: { p_after?: string; p_limit?: number };
        Returns: {
          id: string;
          retired_at: string;
        }[];
      };
      update_realtime_stats: {
        Args: { p_batch_id: string; p_deltas: Json };
        Returns: Json;
      };
      whoami: { Args: Record<PropertyKey, never>; Returns: Json };
      whole_percentages: {
        Args: { p_counts: number[]; p_keys: string[] };
        Returns: {
          count: number;
          key: string;
          percentage: number;
        }[];
      };
    };
    Enums: {
      [_ in never]: never;
    };
    CompositeTypes: {
      [_ in never]: never;
    };
  };
};

type DatabaseWithoutInternals = Omit<Database, "__InternalSupabase">;

type DefaultSchema = DatabaseWithoutInternals[Extract<keyof Database, "public">];

export type Tables<
  DefaultSchemaTableNameOrOptions extends
    | keyof (DefaultSchema["Tables"] & DefaultSchema["Views"])
    | { schema: keyof DatabaseWithoutInternals },
  TableName extends (DefaultSchemaTableNameOrOptions extends {
    schema: keyof DatabaseWithoutInternals;
  } ? keyof (
      & DatabaseWithoutInternals[DefaultSchemaTableNameOrOptions["schema"]]["Tables"]
      & DatabaseWithoutInternals[DefaultSchemaTableNameOrOptions["schema"]]["Views"]
    )
    : never) = never,
> = DefaultSchemaTableNameOrOptions extends {
  schema: keyof DatabaseWithoutInternals;
} ? (
    & DatabaseWithoutInternals[DefaultSchemaTableNameOrOptions["schema"]]["Tables"]
    & DatabaseWithoutInternals[DefaultSchemaTableNameOrOptions["schema"]]["Views"]
  )[TableName] extends {
    Row: infer R;
  } ? R
  : never
  : DefaultSchemaTableNameOrOptions extends keyof (
    & DefaultSchema["Tables"]
    & DefaultSchema["Views"]
  ) ? (
      & DefaultSchema["Tables"]
      & DefaultSchema["Views"]
    )[DefaultSchemaTableNameOrOptions] extends {
      Row: infer R;
    } ? R
    : never
  : never;

export type TablesInsert<
  DefaultSchemaTableNameOrOptions extends
    | keyof DefaultSchema["Tables"]
    | { schema: keyof DatabaseWithoutInternals },
  TableName extends (DefaultSchemaTableNameOrOptions extends {
    schema: keyof DatabaseWithoutInternals;
  } ? keyof DatabaseWithoutInternals[DefaultSchemaTableNameOrOptions["schema"]]["Tables"]
    : never) = never,
> = DefaultSchemaTableNameOrOptions extends {
  schema: keyof DatabaseWithoutInternals;
} ? DatabaseWithoutInternals[DefaultSchemaTableNameOrOptions["schema"]]["Tables"][TableName] extends {
    Insert: infer I;
  } ? I
  : never
  : DefaultSchemaTableNameOrOptions extends keyof DefaultSchema["Tables"]
    ? DefaultSchema["Tables"][DefaultSchemaTableNameOrOptions] extends {
      Insert: infer I;
    } ? I
    : never
  : never;

export type TablesUpdate<
  DefaultSchemaTableNameOrOptions extends
    | keyof DefaultSchema["Tables"]
    | { schema: keyof DatabaseWithoutInternals },
  TableName extends (DefaultSchemaTableNameOrOptions extends {
    schema: keyof DatabaseWithoutInternals;
  } ? keyof DatabaseWithoutInternals[DefaultSchemaTableNameOrOptions["schema"]]["Tables"]
    : never) = never,
> = DefaultSchemaTableNameOrOptions extends {
  schema: keyof DatabaseWithoutInternals;
} ? DatabaseWithoutInternals[DefaultSchemaTableNameOrOptions["schema"]]["Tables"][TableName] extends {
    Update: infer U;
  } ? U
  : never
  : DefaultSchemaTableNameOrOptions extends keyof DefaultSchema["Tables"]
    ? DefaultSchema["Tables"][DefaultSchemaTableNameOrOptions] extends {
      Update: infer U;
    } ? U
    : never
  : never;

export type Enums<
  DefaultSchemaEnumNameOrOptions extends
    | keyof DefaultSchema["Enums"]
    | { schema: keyof DatabaseWithoutInternals },
  EnumName extends (DefaultSchemaEnumNameOrOptions extends {
    schema: keyof DatabaseWithoutInternals;
  } ? keyof DatabaseWithoutInternals[DefaultSchemaEnumNameOrOptions["schema"]]["Enums"]
    : never) = never,
> = DefaultSchemaEnumNameOrOptions extends {
  schema: keyof DatabaseWithoutInternals;
} ? DatabaseWithoutInternals[DefaultSchemaEnumNameOrOptions["schema"]]["Enums"][EnumName]
  : DefaultSchemaEnumNameOrOptions extends keyof DefaultSchema["Enums"]
    ? DefaultSchema["Enums"][DefaultSchemaEnumNameOrOptions]
  : never;

export type CompositeTypes<
  PublicCompositeTypeNameOrOptions extends
    | keyof DefaultSchema["CompositeTypes"]
    | { schema: keyof DatabaseWithoutInternals },
  CompositeTypeName extends (PublicCompositeTypeNameOrOptions extends {
    schema: keyof DatabaseWithoutInternals;
  } ? keyof DatabaseWithoutInternals[PublicCompositeTypeNameOrOptions["schema"]]["CompositeTypes"]
    : never) = never,
> = PublicCompositeTypeNameOrOptions extends {
  schema: keyof DatabaseWithoutInternals;
} ? DatabaseWithoutInternals[PublicCompositeTypeNameOrOptions["schema"]]["CompositeTypes"][CompositeTypeName]
  : PublicCompositeTypeNameOrOptions extends keyof DefaultSchema["CompositeTypes"]
    ? DefaultSchema["CompositeTypes"][PublicCompositeTypeNameOrOptions]
  : never;

export const Constants = {
  public: {
    Enums: {},
  },
} as const;
